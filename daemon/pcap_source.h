#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/clock.h"
#include "engine/result.h"

namespace synguard::daemon {

struct CapturedPacket {
  engine::MonotonicTime ts;        ///< capture time, nanoseconds since the Unix epoch
  std::span<const std::byte> ip;   ///< the IP packet's captured bytes (valid until next())
  std::size_t ip_wire_length = 0;  ///< its length on the wire
  std::uint64_t index = 0;         ///< record number in the file, from 1
};

struct PcapStats {
  std::uint64_t frames = 0;
  std::uint64_t ip_packets = 0;
  std::uint64_t skipped_not_ip = 0;
  std::uint64_t skipped_truncated_link = 0;
  std::uint64_t bytes = 0;
};

/// Reads a pcap or pcapng file with libpcap and yields the IP packets inside its frames.
class PcapSource {
 public:
  enum class Next { kPacket, kSkipped, kEnd, kError };

  static Result<PcapSource> open(const std::string& path);

  /// The next record. kSkipped: not IP or cut inside its link header (counted in stats()).
  /// kError: the file is damaged at this record; error() says where. Packets delivered before
  /// stay valid results.
  Next next(CapturedPacket& out);

  const std::string& error() const noexcept { return error_; }
  const PcapStats& stats() const noexcept { return stats_; }
  int linkType() const noexcept { return dlt_; }
  bool linkSupported() const noexcept;
  std::string linkName() const;

 private:
  struct Closer {
    void operator()(pcap_t* p) const noexcept { pcap_close(p); }
  };
  PcapSource(std::string path, pcap_t* p);

  std::string path_;
  std::unique_ptr<pcap_t, Closer> pcap_;
  bool pcapng_ = false;
  std::uint64_t offset_ = 24;  ///< classic pcap: byte offset of the next record header
  int dlt_ = 0;
  bool nano_ = true;
  std::string error_;
  PcapStats stats_;
};

}  // namespace synguard::daemon
