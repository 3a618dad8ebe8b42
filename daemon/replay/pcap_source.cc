#include "daemon/replay/pcap_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <limits>
#include <utility>

#include "daemon/replay/link_layer.h"

namespace synguard::replay {

namespace {

// No link-layer frame we decode is this large; libpcap already refuses caplens above its
// per-DLT maximum (262144 for most), so this only guards against a libpcap that does not.
constexpr std::uint32_t kMaxFrame = 256 * 1024;

constexpr std::int64_t kNsPerSec = 1'000'000'000;

// pcapng's Section Header Block has major version 1; libpcap reports it through
// pcap_major_version(). Classic pcap is 2.x (libpcap refuses anything older).
constexpr int kPcapngMajorVersion = 1;

// libpcap prefixes some open errors with the path ("x.pcap: No such file or directory").
std::string openReason(const std::string& path, const char* errbuf) {
  std::string reason = errbuf;
  const std::string prefix = path + ": ";
  if (reason.compare(0, prefix.size(), prefix) == 0) {
    reason.erase(0, prefix.size());
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
    reason = "empty file (" + reason + ")";
  }
  return reason;
}

// Nanoseconds since the epoch, saturating instead of overflowing on absurd pcapng times.
std::int64_t toNanoseconds(std::int64_t sec, std::int64_t sub_ns) noexcept {
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(sec, kNsPerSec, &ns) || __builtin_add_overflow(ns, sub_ns, &ns)) {
    return sec < 0 ? std::numeric_limits<std::int64_t>::min()
                   : std::numeric_limits<std::int64_t>::max();
  }
  return ns;
}

}  // namespace

Result<PcapSource> PcapSource::open(const std::string& path) {
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                      errbuf.data());
  if (p == nullptr) {
    return Unexpected{
        Error{path + ": cannot read as a pcap/pcapng capture: " + openReason(path, errbuf.data())}};
  }
  return PcapSource(path, p);
}

PcapSource::PcapSource(std::string path, pcap_t* p)
    : path_(std::move(path)),
      pcap_(p),
      dlt_(pcap_datalink(p)),
      pcapng_(pcap_major_version(p) == kPcapngMajorVersion),
      snapshot_(static_cast<std::uint32_t>(std::max(pcap_snapshot(p), 0))) {
  if (!pcapng_) {
    // Right after the 24-byte file header, unless the FILE is a pipe (ftell fails): then
    // offsets stay unknown and errors report the record number only.
    FILE* f = pcap_file(p);
    offset_ = f != nullptr ? std::ftell(f) : -1;
  }
}

bool PcapSource::linkSupported() const noexcept { return linkTypeSupported(dlt_); }

std::string PcapSource::linkName() const { return linkTypeName(dlt_); }

void PcapSource::trackOffset(std::uint32_t caplen) noexcept {
  if (offset_ < 0) {
    return;
  }
  // libpcap reports a record longer than the file's snaplen as cut to the snaplen and skips
  // the rest, so only then (and to learn the header size) ask the FILE where it is.
  if (record_hdr_ == 0 || caplen >= snapshot_) {
    const std::int64_t pos = std::ftell(pcap_file(pcap_.get()));
    if (pos < 0) {
      offset_ = -1;
      return;
    }
    if (record_hdr_ == 0 && caplen < snapshot_) {
      record_hdr_ = pos - offset_ - caplen;
    }
    offset_ = pos;
    return;
  }
  offset_ += record_hdr_ + caplen;
}

PcapSource::Next PcapSource::fail() {
  error_ = path_ + ": damaged at packet record " + std::to_string(stats_.frames + 1);
  if (!pcapng_ && offset_ >= 0) {
    error_ += ", byte offset " + std::to_string(offset_);
  } else if (FILE* f = pcapng_ ? pcap_file(pcap_.get()) : nullptr; f != nullptr) {
    if (const std::int64_t pos = std::ftell(f); pos >= 0) {
      error_ += " (reading stopped at byte offset " + std::to_string(pos) + ")";
    }
  }
  error_ += ": ";
  error_ += pcap_geterr(pcap_.get());
  done_ = Next::kError;
  return done_;
}

PcapSource::Next PcapSource::next(CapturedPacket& out) {
  if (done_ != Next::kPacket) {
    return done_;
  }
  if (!pcap_) {
    error_ = path_ + ": read after the source was moved from";
    done_ = Next::kError;
    return done_;
  }
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) {  // offline: the end of the file
    done_ = Next::kEnd;
    return done_;
  }
  if (rc != 1) {
    return fail();
  }
  ++stats_.frames;
  stats_.bytes += hdr->len;
  if (!pcapng_) {
    trackOffset(hdr->caplen);
  }

  // With PCAP_TSTAMP_PRECISION_NANO libpcap scales every file's times to nanoseconds and puts
  // them in tv_usec. Classic pcap stores seconds as an unsigned 32-bit field, which libpcap
  // 1.10 sign-extends: undo that so times after 2038 stay right.
  const std::int64_t sec =
      pcapng_ ? static_cast<std::int64_t>(hdr->ts.tv_sec)
              : static_cast<std::int64_t>(static_cast<std::uint32_t>(hdr->ts.tv_sec));
  out.ts = engine::MonotonicTime{
      std::chrono::nanoseconds(toNanoseconds(sec, static_cast<std::int64_t>(hdr->ts.tv_usec)))};
  out.index = stats_.frames;
  out.ip = {};
  out.ip_wire_length = 0;

  if (hdr->caplen == 0 || hdr->caplen > kMaxFrame || data == nullptr) {
    ++stats_.skipped_truncated_link;
    return Next::kSkipped;
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libpcap hands out u_char
  const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), hdr->caplen);
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
  out.ip = d.ip;
  out.ip_wire_length = d.ip_wire_length;
  return Next::kPacket;
}

}  // namespace synguard::replay
