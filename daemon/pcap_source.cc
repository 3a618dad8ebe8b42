#include "daemon/pcap_source.h"

#include <algorithm>
#include <cstdio>

#include "daemon/link_layer.h"

namespace synguard::daemon {

namespace {
// No link layer frame we decode is this large; larger caplens mean a damaged record header.
constexpr std::uint32_t kMaxFrame = 256 * 1024;
}  // namespace

Result<PcapSource> PcapSource::open(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                       errbuf);
  if (p == nullptr) {
    return Unexpected{Error{path + ": not a readable pcap/pcapng capture: " + errbuf}};
  }
  return PcapSource(path, p);
}

PcapSource::PcapSource(std::string path, pcap_t* p)
    : path_(std::move(path)), pcap_(p), dlt_(pcap_datalink(p)) {
  nano_ = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
}

bool PcapSource::linkSupported() const noexcept { return linkTypeSupported(dlt_); }

std::string PcapSource::linkName() const { return linkTypeName(dlt_); }

PcapSource::Next PcapSource::next(CapturedPacket& out) {
  FILE* f = pcap_file(pcap_.get());
  const long offset = f != nullptr ? std::ftell(f) : -1;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) {
    return Next::kEnd;
  }
  if (rc != 1) {
    error_ = path_ + ": damaged at record " + std::to_string(stats_.frames + 1);
    if (offset >= 0) {
      error_ += ", byte offset " + std::to_string(offset);
    }
    error_ += ": " + std::string(pcap_geterr(pcap_.get()));
    return Next::kError;
  }
  ++stats_.frames;
  stats_.bytes += hdr->len;
  if (hdr->caplen == 0 || hdr->caplen > kMaxFrame) {
    ++stats_.skipped_truncated_link;
    return Next::kSkipped;
  }
  const std::span<const std::byte> frame(
      reinterpret_cast<const std::byte*>(data),  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): libpcap hands out u_char
      hdr->caplen);
  const LinkDecode d = decodeLink(dlt_, frame, std::max<std::size_t>(hdr->len, hdr->caplen));
  switch (d.result) {
    case LinkResult::kIp:
      break;
    case LinkResult::kNotIp:
      ++stats_.skipped_not_ip;
      return Next::kSkipped;
    case LinkResult::kTruncated:
      ++stats_.skipped_truncated_link;
      return Next::kSkipped;
  }
  ++stats_.ip_packets;
  const std::int64_t sub = nano_ ? hdr->ts.tv_usec : static_cast<std::int64_t>(hdr->ts.tv_usec) * 1000;
  out.ts = engine::MonotonicTime{std::chrono::nanoseconds(
      static_cast<std::int64_t>(hdr->ts.tv_sec) * 1'000'000'000 + sub)};
  out.ip = d.ip;
  out.ip_wire_length = d.ip_wire_length;
  out.index = stats_.frames;
  return Next::kPacket;
}

}  // namespace synguard::daemon
