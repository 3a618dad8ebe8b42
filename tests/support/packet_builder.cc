#include "tests/support/packet_builder.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>

#include "engine/packet/checksum.h"

namespace synguard::testing {

namespace {

engine::IpAddress addr(std::string_view s) {
  auto a = engine::IpAddress::parse(s);
  if (!a) {
    throw std::invalid_argument("PacketBuilder: bad address " + std::string(s));
  }
  return *a;
}

void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x >> 8);
  v[at + 1] = static_cast<std::uint8_t>(x & 0xff);
}
void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
  put16(v, at, static_cast<std::uint16_t>(x >> 16));
  put16(v, at + 2, static_cast<std::uint16_t>(x & 0xffff));
}
void push16(std::vector<std::uint8_t>& v, std::uint16_t x) {
  v.push_back(static_cast<std::uint8_t>(x >> 8));
  v.push_back(static_cast<std::uint8_t>(x & 0xff));
}
void push32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  push16(v, static_cast<std::uint16_t>(x >> 16));
  push16(v, static_cast<std::uint16_t>(x & 0xffff));
}

}  // namespace

PacketBuilder PacketBuilder::ipv4(std::string_view src, std::string_view dst) {
  PacketBuilder b;
  b.src_ = addr(src);
  b.dst_ = addr(dst);
  return b;
}

PacketBuilder PacketBuilder::ipv6(std::string_view src, std::string_view dst) {
  PacketBuilder b = ipv4(src, dst);
  b.v6_ = true;
  return b;
}

PacketBuilder& PacketBuilder::tcp(std::uint16_t sport, std::uint16_t dport) {
  sport_ = sport;
  dport_ = dport;
  return *this;
}
PacketBuilder& PacketBuilder::syn() {
  flags_ |= 0x02;
  return *this;
}
PacketBuilder& PacketBuilder::fin() {
  flags_ |= 0x01;
  return *this;
}
PacketBuilder& PacketBuilder::rst() {
  flags_ |= 0x04;
  return *this;
}
PacketBuilder& PacketBuilder::psh() {
  flags_ |= 0x08;
  return *this;
}
PacketBuilder& PacketBuilder::ack(std::uint32_t ack_number) {
  flags_ |= 0x10;
  ack_ = ack_number;
  return *this;
}
PacketBuilder& PacketBuilder::ackFlagOnly() {
  flags_ |= 0x10;
  return *this;
}
PacketBuilder& PacketBuilder::flags(std::uint8_t raw) {
  flags_ = raw;
  return *this;
}
PacketBuilder& PacketBuilder::seq(std::uint32_t s) {
  seq_ = s;
  return *this;
}
PacketBuilder& PacketBuilder::window(std::uint16_t w) {
  window_ = w;
  return *this;
}
PacketBuilder& PacketBuilder::mss(std::uint16_t m) {
  mss_ = m;
  return *this;
}
PacketBuilder& PacketBuilder::wscale(std::uint8_t s) {
  wscale_ = s;
  return *this;
}
PacketBuilder& PacketBuilder::sackPermitted() {
  sack_perm_ = true;
  return *this;
}
PacketBuilder& PacketBuilder::timestamps(std::uint32_t val, std::uint32_t ecr) {
  ts_ = std::make_pair(val, ecr);
  return *this;
}
PacketBuilder& PacketBuilder::sack(std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks) {
  sack_ = std::move(blocks);
  return *this;
}
PacketBuilder& PacketBuilder::payload(std::size_t n) {
  payload_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    payload_[i] = static_cast<std::uint8_t>('a' + i % 26);
  }
  return *this;
}
PacketBuilder& PacketBuilder::payload(std::string_view bytes) {
  payload_.assign(bytes.begin(), bytes.end());
  return *this;
}
PacketBuilder& PacketBuilder::ttl(std::uint8_t t) {
  ttl_ = t;
  return *this;
}
PacketBuilder& PacketBuilder::ipId(std::uint16_t id) {
  ip_id_ = id;
  return *this;
}
PacketBuilder& PacketBuilder::dontFragment(bool df) {
  df_ = df;
  return *this;
}
PacketBuilder& PacketBuilder::rawOptions(std::vector<std::uint8_t> bytes) {
  raw_options_ = std::move(bytes);
  return *this;
}
PacketBuilder& PacketBuilder::dataOffsetOverride(std::uint8_t words) {
  doff_override_ = words;
  return *this;
}
PacketBuilder& PacketBuilder::ipTotalLengthOverride(std::uint16_t len) {
  total_len_override_ = len;
  return *this;
}
PacketBuilder& PacketBuilder::ihlOverride(std::uint8_t words) {
  ihl_override_ = words;
  return *this;
}
PacketBuilder& PacketBuilder::ipv6ExtensionHeader(std::uint8_t type,
                                                  std::vector<std::uint8_t> body) {
  ext_headers_.emplace_back(type, std::move(body));
  return *this;
}
PacketBuilder& PacketBuilder::fragment(std::uint16_t offset_units, bool more_fragments) {
  frag_offset_ = offset_units;
  more_fragments_ = more_fragments;
  return *this;
}
PacketBuilder& PacketBuilder::badChecksum() {
  bad_checksum_ = true;
  return *this;
}

std::vector<std::uint8_t> PacketBuilder::options() const {
  std::vector<std::uint8_t> o;
  if (raw_options_) {
    o = *raw_options_;
  } else {
    if (mss_) {
      o.push_back(2);
      o.push_back(4);
      push16(o, *mss_);
    }
    if (sack_perm_ && ts_) {
      o.push_back(4);
      o.push_back(2);
    } else if (sack_perm_) {
      o.push_back(1);
      o.push_back(1);
      o.push_back(4);
      o.push_back(2);
    }
    if (ts_) {
      if (!sack_perm_) {
        o.push_back(1);
        o.push_back(1);
      }
      o.push_back(8);
      o.push_back(10);
      push32(o, ts_->first);
      push32(o, ts_->second);
    }
    if (!sack_.empty()) {
      o.push_back(1);
      o.push_back(1);
      o.push_back(5);
      o.push_back(static_cast<std::uint8_t>(2 + 8 * sack_.size()));
      for (const auto& [l, r] : sack_) {
        push32(o, l);
        push32(o, r);
      }
    }
    if (wscale_) {
      o.push_back(1);
      o.push_back(3);
      o.push_back(3);
      o.push_back(*wscale_);
    }
  }
  while (o.size() % 4 != 0) {
    o.push_back(0);
  }
  return o;
}

std::vector<std::byte> PacketBuilder::build() const {
  const std::vector<std::uint8_t> opts = options();
  const std::size_t tcp_len = 20 + opts.size() + payload_.size();
  std::vector<std::uint8_t> ext;
  std::vector<std::uint8_t> v;
  std::size_t l4 = 0;
  if (!v6_) {
    const std::size_t total = 20 + tcp_len;
    v.assign(total, 0);
    v[0] = static_cast<std::uint8_t>(0x40 | (ihl_override_ ? *ihl_override_ : 5));
    put16(v, 2, total_len_override_ ? *total_len_override_ : static_cast<std::uint16_t>(total));
    put16(v, 4, ip_id_);
    put16(v, 6,
          static_cast<std::uint16_t>((df_ ? 0x4000 : 0) | (more_fragments_ ? 0x2000 : 0) |
                                     (frag_offset_ & 0x1fff)));
    v[8] = ttl_;
    v[9] = 6;
    for (std::size_t i = 0; i < 4; ++i) {
      v[12 + i] = src_.bytes()[12 + i];
      v[16 + i] = dst_.bytes()[12 + i];
    }
    l4 = 20;
  } else {
    // Extension headers (RFC 8200 §4): next header, length, body padded to 8 bytes. `body` is
    // what follows the two fixed bytes; a Fragment header is always 8 bytes.
    std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> chain = ext_headers_;
    if (frag_offset_ != 0 || more_fragments_) {
      const auto fo = static_cast<std::uint16_t>((frag_offset_ << 3) | (more_fragments_ ? 1 : 0));
      chain.emplace_back(
          44, std::vector<std::uint8_t>{static_cast<std::uint8_t>(fo >> 8),
                                        static_cast<std::uint8_t>(fo & 0xff), 0, 0, 0, 1});
    }
    const std::uint8_t first_next = chain.empty() ? 6 : chain.front().first;
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const std::uint8_t next = i + 1 < chain.size() ? chain[i + 1].first : 6;
      std::vector<std::uint8_t> h{next, 0};
      h.insert(h.end(), chain[i].second.begin(), chain[i].second.end());
      while (h.size() < 8 || h.size() % 8 != 0) {
        h.push_back(0);
      }
      if (chain[i].first == 51) {
        h[1] = static_cast<std::uint8_t>(h.size() / 4 - 2);  // RFC 4302 §2.2
      } else if (chain[i].first != 44) {
        h[1] = static_cast<std::uint8_t>(h.size() / 8 - 1);
      }
      ext.insert(ext.end(), h.begin(), h.end());
    }
    const std::size_t payload_len = ext.size() + tcp_len;
    v.assign(40 + payload_len, 0);
    v[0] = 0x60;
    put16(v, 4,
          total_len_override_ ? *total_len_override_ : static_cast<std::uint16_t>(payload_len));
    v[6] = first_next;
    v[7] = ttl_;
    for (std::size_t i = 0; i < 16; ++i) {
      v[8 + i] = src_.bytes()[i];
      v[24 + i] = dst_.bytes()[i];
    }
    for (std::size_t i = 0; i < ext.size(); ++i) {
      v[40 + i] = ext[i];
    }
    l4 = 40 + ext.size();
  }
  put16(v, l4, sport_);
  put16(v, l4 + 2, dport_);
  put32(v, l4 + 4, seq_);
  put32(v, l4 + 8, ack_);
  const std::uint8_t doff =
      doff_override_ ? *doff_override_ : static_cast<std::uint8_t>((20 + opts.size()) / 4);
  v[l4 + 12] = static_cast<std::uint8_t>(doff << 4);
  v[l4 + 13] = flags_;
  put16(v, l4 + 14, window_);
  for (std::size_t i = 0; i < opts.size(); ++i) {
    v[l4 + 20 + i] = opts[i];
  }
  for (std::size_t i = 0; i < payload_.size(); ++i) {
    v[l4 + 20 + opts.size() + i] = payload_[i];
  }
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out[i] = std::byte{v[i]};
  }
  if (!v6_) {
    std::vector<std::byte> hdr(out.begin(), out.begin() + 20);
    const std::uint16_t c = engine::internetChecksum(hdr);
    out[10] = std::byte(c >> 8);
    out[11] = std::byte(c & 0xff);
  }
  // The TCP checksum is computed over the real segment whatever the overrides say.
  std::uint16_t tc = engine::tcpChecksum(out, l4, tcp_len);
  if (bad_checksum_) {
    tc = static_cast<std::uint16_t>(tc ^ 0x5555);
  }
  out[l4 + 16] = std::byte(tc >> 8);
  out[l4 + 17] = std::byte(tc & 0xff);
  return out;
}

namespace {

void store16(std::vector<std::byte>& p, std::size_t i, std::uint16_t v) {
  p[i] = static_cast<std::byte>(v >> 8);
  p[i + 1] = static_cast<std::byte>(v);
}

std::uint32_t icmpSum(const std::vector<std::byte>& p, std::size_t ip) {
  std::uint32_t sum = 0;
  if (ip == 40) {
    // RFC 4443 §2.3: the pseudo-header (RFC 8200 §8.1) with next header 58.
    sum = engine::checksumPartial(std::span<const std::byte>(p.data() + 8, 32));
    sum += static_cast<std::uint32_t>(p.size() - ip) + 58U;
  }
  return engine::checksumPartial(std::span<const std::byte>(p).subspan(ip), sum);
}

}  // namespace

std::vector<std::byte> icmpError(std::string_view from, std::string_view to, std::uint8_t type,
                                 std::uint8_t code, const std::vector<std::byte>& quoted,
                                 std::size_t quote_len, std::uint16_t mtu) {
  const engine::IpAddress src = addr(from);
  const engine::IpAddress dst = addr(to);
  const bool v6 = !src.isV4();
  const std::size_t ip = v6 ? 40 : 20;
  quote_len = std::min(quote_len, quoted.size());
  std::vector<std::byte> p(ip + 8 + quote_len);
  if (v6) {
    p[0] = std::byte{0x60};
    store16(p, 4, static_cast<std::uint16_t>(8 + quote_len));
    p[6] = std::byte{58};
    p[7] = std::byte{64};
    for (std::size_t k = 0; k < 16; ++k) {
      p[8 + k] = static_cast<std::byte>(src.bytes()[k]);
      p[24 + k] = static_cast<std::byte>(dst.bytes()[k]);
    }
  } else {
    p[0] = std::byte{0x45};
    store16(p, 2, static_cast<std::uint16_t>(p.size()));
    p[8] = std::byte{64};
    p[9] = std::byte{1};
    const std::uint32_t s = src.v4HostOrder();
    const std::uint32_t d = dst.v4HostOrder();
    store16(p, 12, static_cast<std::uint16_t>(s >> 16));
    store16(p, 14, static_cast<std::uint16_t>(s));
    store16(p, 16, static_cast<std::uint16_t>(d >> 16));
    store16(p, 18, static_cast<std::uint16_t>(d));
    store16(p, 10, engine::internetChecksum(std::span<const std::byte>(p.data(), 20)));
  }
  p[ip] = std::byte{type};
  p[ip + 1] = std::byte{code};
  store16(p, ip + 6, mtu);
  std::copy_n(quoted.begin(), quote_len, p.begin() + static_cast<std::ptrdiff_t>(ip + 8));
  store16(p, ip + 2, engine::checksumFinish(icmpSum(p, ip)));
  return p;
}

bool icmpChecksumOk(const std::vector<std::byte>& p) {
  const bool v6 = (std::to_integer<unsigned>(p[0]) >> 4) == 6;
  return engine::checksumFinish(icmpSum(p, v6 ? 40 : 20)) == 0;
}

std::vector<std::byte> fragmentOf(std::span<const std::byte> packet, std::size_t offset,
                                  std::size_t len, bool more, std::uint32_t id) {
  if (packet.empty() || offset % 8 != 0) {
    throw std::invalid_argument("fragmentOf: empty packet or offset not a multiple of 8");
  }
  const bool v4 = (std::to_integer<std::uint8_t>(packet[0]) >> 4) == 4;
  const std::size_t hdr = v4 ? (std::to_integer<std::size_t>(packet[0]) & 0x0fU) * 4 : 40;
  if (packet.size() < hdr || offset > packet.size() - hdr) {
    throw std::invalid_argument("fragmentOf: offset beyond the payload");
  }
  len = std::min(len, packet.size() - hdr - offset);
  std::vector<std::byte> out(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(hdr));
  const auto put = [&](std::size_t at, std::uint16_t x) {
    out[at] = std::byte(x >> 8);
    out[at + 1] = std::byte(x & 0xff);
  };
  if (v4) {
    put(2, static_cast<std::uint16_t>(hdr + len));
    put(4, static_cast<std::uint16_t>(id));
    put(6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | ((offset / 8) & 0x1fff)));
    out[10] = std::byte{0};
    out[11] = std::byte{0};
    const std::uint16_t c = engine::internetChecksum(out);
    put(10, c);
  } else {
    const std::byte next = out[6];
    out[6] = std::byte{44};
    put(4, static_cast<std::uint16_t>(8 + len));
    const auto fo = static_cast<std::uint16_t>(((offset / 8) << 3) | (more ? 1 : 0));
    out.push_back(next);
    out.push_back(std::byte{0});
    out.push_back(std::byte(fo >> 8));
    out.push_back(std::byte(fo & 0xff));
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(std::byte((id >> shift) & 0xff));
    }
  }
  const auto from = packet.begin() + static_cast<std::ptrdiff_t>(hdr + offset);
  out.insert(out.end(), from, from + static_cast<std::ptrdiff_t>(len));
  return out;
}

std::vector<std::byte> atomicFragmentOf(std::span<const std::byte> packet, std::uint32_t id) {
  if (packet.empty() || (std::to_integer<std::uint8_t>(packet[0]) >> 4) != 6) {
    throw std::invalid_argument("atomicFragmentOf: not an IPv6 packet");
  }
  return fragmentOf(packet, 0, packet.size(), false, id);
}

}  // namespace synguard::testing
