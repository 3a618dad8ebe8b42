#pragma once

#include <pcap/pcap.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/clock.h"
#include "engine/result.h"

namespace synguard::replay {

/// One IP packet read from a capture.
struct CapturedPacket {
  engine::MonotonicTime ts;        ///< capture time, nanoseconds since the Unix epoch
  std::span<const std::byte> ip;   ///< the IP packet's captured bytes (valid until next next())
  std::size_t ip_wire_length = 0;  ///< its length on the wire; > ip.size() when snaplen-cut
  std::uint64_t index = 0;         ///< packet record number in the file, from 1
};

/// Per-file counters. frames = ip_packets + skipped_not_ip + skipped_truncated_link.
struct PcapStats {
  std::uint64_t frames = 0;                  ///< packet records read
  std::uint64_t ip_packets = 0;              ///< delivered as Next::kPacket
  std::uint64_t skipped_not_ip = 0;          ///< ARP, LLDP, MPLS, PPPoE, > kMaxVlanTags tags...
  std::uint64_t skipped_truncated_link = 0;  ///< cut inside the link header, caplen 0 or absurd
  std::uint64_t bytes = 0;                   ///< sum of the frames' wire lengths
};

/// Reads a pcap or pcapng file with libpcap (nanosecond timestamps whatever the file's own
/// resolution) and yields the IP packets inside its frames. Owns the pcap_t; move-only; not
/// thread-safe (one reader per file). Nothing throws except std::bad_alloc.
class PcapSource {
 public:
  enum class Next {
    kPacket,   ///< `out` holds an IP packet
    kSkipped,  ///< not IP, or cut inside its link header (counted in stats()); call again
    kEnd,      ///< clean end of file
    kError,    ///< the file is damaged at this record: error() says where
  };

  /// Opens `path`. Fails, with a message naming the file and libpcap's reason, when it cannot
  /// be read or is not a pcap/pcapng capture. An unsupported link type opens fine: check
  /// linkSupported() and skip the file (next() would deliver nothing but kSkipped).
  static Result<PcapSource> open(const std::string& path);

  PcapSource(PcapSource&&) noexcept = default;
  PcapSource& operator=(PcapSource&&) noexcept = default;
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;
  ~PcapSource() = default;

  /// Reads the next record. For kPacket, out.ip points into libpcap's buffer and stays valid
  /// only until the next call (copy it to keep it). For kSkipped, out.index and out.ts are set
  /// and out.ip is empty. kEnd and kError are sticky: later calls return them again. Packets
  /// delivered before a kError were read from intact records and remain valid results.
  Next next(CapturedPacket& out);

  /// After kError: "<path>: damaged at packet record <n>, byte offset <off>: <libpcap reason>".
  /// For pcapng the offset is where reading stopped, since blocks are not all packet records.
  const std::string& error() const noexcept { return error_; }
  const PcapStats& stats() const noexcept { return stats_; }
  const std::string& path() const noexcept { return path_; }
  int linkType() const noexcept { return dlt_; }  ///< a DLT_ value, as pcap_datalink()
  bool linkSupported() const noexcept;
  std::string linkName() const;  ///< libpcap's name: "EN10MB", "LINUX_SLL", ...
  bool isPcapng() const noexcept { return pcapng_; }

 private:
  struct Closer {
    void operator()(pcap_t* p) const noexcept { pcap_close(p); }
  };
  PcapSource(std::string path, pcap_t* p);
  void trackOffset(std::uint32_t caplen) noexcept;
  Next fail();

  std::string path_;
  std::unique_ptr<pcap_t, Closer> pcap_;
  int dlt_ = 0;
  bool pcapng_ = false;
  std::uint32_t snapshot_ = 0;  ///< libpcap cuts records longer than this to this length
  // Classic pcap: the byte offset of the next record header, computed from the record lengths
  // (ftell per record is a syscall: it halved replay throughput) and re-read with ftell only
  // when libpcap may have skipped bytes (caplen == snapshot) or for the first record (to learn
  // the record header size: 16, or 24 in Kuznetzov's patched format).
  std::int64_t offset_ = -1;     ///< -1: unknown (not seekable)
  std::int64_t record_hdr_ = 0;  ///< 0: not learnt yet
  Next done_ = Next::kPacket;    ///< kEnd or kError once reached
  std::string error_;
  PcapStats stats_;
};

}  // namespace synguard::replay
