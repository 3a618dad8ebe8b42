// libFuzzer: parseSegment on arbitrary bytes, every option combination. It must classify every
// input (a Segment or a named ParseError) without reading outside the buffer. What is not TCP
// goes to parseIcmpError, and a quote it finds is translated both ways (on a copy) without
// writing outside the buffer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/packet/segment.h"
#include "engine/protect/icmp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  synguard::engine::ParseOptions o;
  o.allow_zero_ip_length = (data[0] & 1) != 0;
  o.verify_checksum = (data[0] & 2) != 0;
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data + 1),
                                                size - 1);  // NOLINT
  o.wire_length = (data[0] & 4) != 0 ? bytes.size() + (data[0] >> 3) : 0;
  synguard::engine::Segment seg;
  const auto err = synguard::engine::parseSegment(bytes, seg, o);
  if (err == synguard::engine::ParseError::kNone) {
    // A parsed segment's payload lies inside the packet (the buffer, or the wire length when
    // the buffer was cut short).
    if (seg.payload_len > (o.wire_length != 0 ? o.wire_length : bytes.size())) {
      __builtin_trap();
    }
  }
  if (err == synguard::engine::ParseError::kNotTcp) {
    synguard::engine::IcmpQuote q;
    if (synguard::engine::parseIcmpError(bytes, q) == synguard::engine::IcmpParse::kTcpQuote) {
      if (q.tcp_bytes < 8 || q.tcp_offset + q.tcp_bytes > bytes.size() ||
          q.icmp_offset + 8U > q.tcp_offset) {
        __builtin_trap();
      }
      std::vector<std::byte> copy(bytes.begin(), bytes.end());
      const synguard::engine::Translation t{0x01020304, 0x0a0b0c0d, 7, 7, 7, 7};
      synguard::engine::translateQuote(copy, q, t, (data[0] & 8) != 0);
    }
  }
  return 0;
}
