"""The deterministic byte stream the lab's client and server both compute for transfers."""
import random


def stream(seed, n):
    """n bytes of the stream seeded with `seed`, in chunks of at most 1 MiB."""
    rng = random.Random(seed)
    while n > 0:
        k = min(n, 1 << 20)
        yield rng.randbytes(k)
        n -= k
