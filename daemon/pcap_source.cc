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
  PcapSource src(path, p);
  // pcapng starts with a Section Header Block (0x0A0D0D0A); classic pcap record offsets are
  // computed as we go, since asking the FILE for its position costs a syscall per packet.
  if (FILE* f = std::fopen(path.c_str(), "rb"); f != nullptr) {
    unsigned char magic[4] = {};
    src.pcapng_ = std::fread(magic, 1, 4, f) == 4 && magic[0] == 0x0a && magic[1] == 0x0d &&
                  magic[2] == 0x0d && magic[3] == 0x0a;
    std::fclose(f);
  }
  return src;
}

PcapSource::PcapSource(std::string path, pcap_t* p)
    : path_(std::move(path)), pcap_(p), dlt_(pcap_datalink(p)) {
  nano_ = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
}

bool PcapSource::linkSupported() const noexcept { return linkTypeSupported(dlt_); }

std::string PcapSource::linkName() const { return linkTypeName(dlt_); }

PcapSource::Next PcapSource::next(CapturedPacket& out) {
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) {
    return Next::kEnd;
  }
  if (rc != 1) {
    error_ = path_ + ": damaged at record " + std::to_string(stats_.frames + 1);
    if (!pcapng_) {
      error_ += ", byte offset " + std::to_string(offset_);
    } else if (FILE* f = pcap_file(pcap_.get()); f != nullptr) {
      error_ += ", near byte offset " + std::to_string(std::ftell(f));
    }
    error_ += ": " + std::string(pcap_geterr(pcap_.get()));
    return Next::kError;
  }
  ++stats_.frames;
  stats_.bytes += hdr->len;
  offset_ += 16 + hdr->caplen;
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
