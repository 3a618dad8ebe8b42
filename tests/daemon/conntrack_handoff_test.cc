#include "daemon/inline/conntrack_handoff.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <tuple>

namespace synguard::daemon {
namespace {

engine::FlowKey key(const char* a, std::uint16_t ap, const char* b, std::uint16_t bp) {
  return engine::FlowKey{*engine::IpAddress::parse(a), *engine::IpAddress::parse(b), ap, bp};
}

/// An nf_conntrack carrying an original tuple, as an event or a dump hands it over.
struct Entry {
  nf_conntrack* ct = nfct_new();
  Entry() = default;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry() { nfct_destroy(ct); }
};

TEST(ConntrackHandoff, SetElementsAreBothDirectionsOfTheTuple) {
  EXPECT_EQ(ConntrackHandoff::setElements(key("192.0.2.10", 40001, "198.51.100.10", 8080)),
            "192.0.2.10 . 40001 . 198.51.100.10 . 8080, 198.51.100.10 . 8080 . 192.0.2.10 . 40001");
  EXPECT_EQ(ConntrackHandoff::setElements(key("2001:db8::1", 5, "2001:db8:5::10", 443)),
            "2001:db8::1 . 5 . 2001:db8:5::10 . 443, 2001:db8:5::10 . 443 . 2001:db8::1 . 5");
}

/// Fills `e` with the original tuple A:AP -> B:BP (TCP) as conntrack reports it.
void fill(Entry& e, const char* a, std::uint16_t ap, const char* b, std::uint16_t bp) {
  const bool v4 = engine::IpAddress::parse(a)->isV4();
  nfct_set_attr_u8(e.ct, ATTR_L3PROTO, v4 ? AF_INET : AF_INET6);
  nfct_set_attr_u8(e.ct, ATTR_L4PROTO, IPPROTO_TCP);
  if (v4) {
    nfct_set_attr_u32(e.ct, ATTR_IPV4_SRC, inet_addr(a));
    nfct_set_attr_u32(e.ct, ATTR_IPV4_DST, inet_addr(b));
  } else {
    in6_addr s{};
    in6_addr d{};
    ASSERT_EQ(inet_pton(AF_INET6, a, &s), 1);
    ASSERT_EQ(inet_pton(AF_INET6, b, &d), 1);
    nfct_set_attr(e.ct, ATTR_IPV6_SRC, &s);
    nfct_set_attr(e.ct, ATTR_IPV6_DST, &d);
  }
  nfct_set_attr_u16(e.ct, ATTR_PORT_SRC, htons(ap));
  nfct_set_attr_u16(e.ct, ATTR_PORT_DST, htons(bp));
}

TEST(ConntrackHandoff, TupleOfAnEntryEitherFamily) {
  for (const auto& [a, ap, b, bp] : {std::tuple{"192.0.2.10", 40001, "198.51.100.10", 8080},
                                     std::tuple{"2001:db8::1", 5, "2001:db8:5::10", 443}}) {
    Entry e;
    fill(e, a, static_cast<std::uint16_t>(ap), b, static_cast<std::uint16_t>(bp));
    const auto k = ConntrackHandoff::tupleOf(e.ct);
    ASSERT_TRUE(k.has_value()) << a;
    EXPECT_EQ(*k, key(a, static_cast<std::uint16_t>(ap), b, static_cast<std::uint16_t>(bp)));
  }
}

TEST(ConntrackHandoff, NoTupleForOtherProtocolsOrMissingAddresses) {
  Entry udp;
  nfct_set_attr_u8(udp.ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(udp.ct, ATTR_L4PROTO, IPPROTO_UDP);
  nfct_set_attr_u32(udp.ct, ATTR_IPV4_SRC, inet_addr("192.0.2.10"));
  nfct_set_attr_u32(udp.ct, ATTR_IPV4_DST, inet_addr("198.51.100.10"));
  EXPECT_FALSE(ConntrackHandoff::tupleOf(udp.ct).has_value());
  Entry bare;
  nfct_set_attr_u8(bare.ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(bare.ct, ATTR_L4PROTO, IPPROTO_TCP);
  EXPECT_FALSE(ConntrackHandoff::tupleOf(bare.ct).has_value());
  Entry bare6;
  nfct_set_attr_u8(bare6.ct, ATTR_L3PROTO, AF_INET6);
  nfct_set_attr_u8(bare6.ct, ATTR_L4PROTO, IPPROTO_TCP);
  EXPECT_FALSE(ConntrackHandoff::tupleOf(bare6.ct).has_value());
}

}  // namespace
}  // namespace synguard::daemon
