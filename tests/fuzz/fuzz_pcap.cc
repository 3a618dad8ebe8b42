// libFuzzer: capture files through PcapSource (libpcap) and the replay's link-layer decoding
// into the engine. Damaged files must end with an error that names the place, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "daemon/replay/pcap_source.h"
#include "engine/engine.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/manual_clock.h"
#include "tests/support/test_secrets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/synguard-fuzz-pcap." + std::to_string(::getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return 0;
  }
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto src = synguard::replay::PcapSource::open(path);
  if (!src) {
    return 0;
  }
  synguard::testing::ManualClock clock;
  synguard::testing::CapturingSink sink;
  synguard::engine::EngineConfig cfg;
  cfg.table_capacity = 256;
  cfg.half_open.service_capacity = 64;
  cfg.half_open.source_capacity = 64;
  auto eng = synguard::engine::Engine::create(cfg, synguard::testing::testSecrets(), clock, sink);
  if (!eng) {
    __builtin_trap();
  }
  synguard::replay::CapturedPacket p;
  for (int i = 0; i < 100000; ++i) {
    const auto n = src->next(p);
    if (n != synguard::replay::PcapSource::Next::kPacket) {
      if (n == synguard::replay::PcapSource::Next::kSkipped) {
        continue;
      }
      break;
    }
    clock.set(p.ts);
    eng->process(p.ip, p.ip_wire_length > p.ip.size() ? p.ip_wire_length : 0);
  }
  return 0;
}
