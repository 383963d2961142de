//! Which addresses are internal: the special-purpose ranges of RFC 6890 and
//! its successors that a tenant-chosen URL must not reach unless allowed.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is internal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Loopback,
    LinkLocal,
    Private,
    /// 100.64.0.0/10, shared address space (carrier-grade NAT).
    Shared,
    UniqueLocal,
    Multicast,
    Unspecified,
    Broadcast,
    Documentation,
    /// Any other special-purpose range (this network, benchmarking, future
    /// use, deprecated IPv6 forms, everything outside IPv6 global unicast).
    Reserved,
}

impl Class {
    fn adjective(self) -> &'static str {
        match self {
            Class::Loopback => "loopback",
            Class::LinkLocal => "link-local",
            Class::Private => "private",
            Class::Shared => "carrier-grade NAT",
            Class::UniqueLocal => "unique-local",
            Class::Multicast => "multicast",
            Class::Unspecified => "unspecified",
            Class::Broadcast => "broadcast",
            Class::Documentation => "documentation",
            Class::Reserved => "reserved",
        }
    }
}

/// The instance metadata services of the clouds (AWS, GCP, Azure; ECS task
/// metadata; Alibaba; AWS's IPv6 one): named in refusals, since they are what
/// an attacker is after.
const METADATA: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// `address` described for a refusal: "a link-local address (cloud metadata)".
pub fn describe(address: IpAddr, class: Class) -> String {
    let mapped = matches!(address, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    let phrase = if mapped {
        format!("IPv4-mapped {}", class.adjective())
    } else {
        class.adjective().to_owned()
    };
    let article = if mapped || class == Class::Unspecified {
        "an"
    } else {
        "a"
    };
    let metadata = if METADATA.contains(&address.to_canonical()) {
        " (cloud metadata)"
    } else {
        ""
    };
    format!("{article} {phrase} address{metadata}")
}

const V4_SHARED: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10);
const V4_RESERVED: [Ipv4Net; 5] = [
    // "This network".
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    // IETF protocol assignments.
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
    // 6to4 relay anycast (deprecated).
    Ipv4Net::new_assert(Ipv4Addr::new(192, 88, 99, 0), 24),
    // Benchmarking.
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
    // Future use.
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
];

const V6_GLOBAL_UNICAST: Ipv6Net =
    Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
const V6_NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const V6_6TO4: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);
const V6_RESERVED: [Ipv6Net; 3] = [
    // Teredo.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
    // ORCHIDv2.
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28),
    // Deprecated site-local (outside 2000::/3 as well; named for clarity).
    Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
];
const V6_DOCUMENTATION: [Ipv6Net; 2] = [
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
];

/// The class of an internal address; `None` for a public one.
pub fn classify(address: IpAddr) -> Option<Class> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    Some(if ip.is_unspecified() {
        Class::Unspecified
    } else if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_private() {
        Class::Private
    } else if ip.is_link_local() {
        Class::LinkLocal
    } else if ip.is_broadcast() {
        Class::Broadcast
    } else if ip.is_multicast() {
        Class::Multicast
    } else if ip.is_documentation() {
        Class::Documentation
    } else if V4_SHARED.contains(&ip) {
        Class::Shared
    } else if V4_RESERVED.iter().any(|n| n.contains(&ip)) {
        Class::Reserved
    } else {
        return None;
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // Addresses that carry an IPv4 address reach it through a translator.
    if V6_NAT64.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    if V6_6TO4.contains(&ip) {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(if ip.is_unspecified() {
        Class::Unspecified
    } else if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_multicast() {
        Class::Multicast
    } else if ip.is_unicast_link_local() {
        Class::LinkLocal
    } else if ip.is_unique_local() {
        Class::UniqueLocal
    } else if V6_DOCUMENTATION.iter().any(|n| n.contains(&ip)) {
        Class::Documentation
    } else if V6_RESERVED.iter().any(|n| n.contains(&ip)) || !V6_GLOBAL_UNICAST.contains(&ip) {
        // Outside 2000::/3 lie only special ranges (IPv4-compatible,
        // discard-only, unassigned).
        Class::Reserved
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<Class> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn internal_ranges_have_their_class() {
        use Class::*;
        for (address, want) in [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("::ffff:169.254.169.254", LinkLocal),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("::ffff:10.0.0.1", Private),
            ("100.64.0.1", Shared),
            ("100.127.255.255", Shared),
            ("fc00::1", UniqueLocal),
            ("fd00:ec2::254", UniqueLocal),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("0.0.0.0", Unspecified),
            ("::", Unspecified),
            ("255.255.255.255", Broadcast),
            ("192.0.2.1", Documentation),
            ("2001:db8::1", Documentation),
            ("0.1.2.3", Reserved),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("240.0.0.1", Reserved),
            ("fec0::1", Reserved),
            ("2001::1", Reserved),
            ("::127.0.0.1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("2002:7f00:1::1", Loopback),
            ("2002:a00:1::1", Private),
        ] {
            assert_eq!(class(address), Some(want), "{address}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "52.94.236.248",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class(address), None, "{address}");
        }
    }

    #[test]
    fn refusals_name_the_class_and_the_metadata_service() {
        let say = |text: &str| {
            let address: IpAddr = text.parse().unwrap();
            describe(address, classify(address).unwrap())
        };
        assert_eq!(
            say("169.254.169.254"),
            "a link-local address (cloud metadata)"
        );
        assert_eq!(say("169.254.1.1"), "a link-local address");
        assert_eq!(
            say("fd00:ec2::254"),
            "a unique-local address (cloud metadata)"
        );
        assert_eq!(say("::ffff:127.0.0.1"), "an IPv4-mapped loopback address");
        assert_eq!(say("0.0.0.0"), "an unspecified address");
        assert_eq!(say("100.64.0.1"), "a carrier-grade NAT address");
        assert_eq!(
            say("100.100.100.200"),
            "a carrier-grade NAT address (cloud metadata)"
        );
    }
}
