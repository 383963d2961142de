//! Which address a request comes from: the socket's peer, or — only when
//! that peer is a configured trusted proxy — the right-most
//! `X-Forwarded-For` address that is not itself a trusted proxy. Anyone
//! can write `X-Forwarded-For`; only a proxy in the list is believed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// One entry of `TRELLIS_TRUSTED_PROXIES`: a CIDR block (`10.0.0.0/8`,
/// `fd00::/8`) or a single address.
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR block (`10.0.0.0/8`)"))
}

fn trusted(address: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&address))
}

/// One `X-Forwarded-For` entry: an address, maybe with a port.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address for a request from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    // Each proxy appends the address it was reached from, so the list is
    // read from the right: trusted proxies are skipped, the first other
    // address is the client. What lies left of it came from the client and
    // proves nothing.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(address) = forwarded_address(entry) else {
            break;
        };
        client = address;
        if !trusted(address, proxies) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies() -> Vec<IpNet> {
        ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]
            .iter()
            .map(|p| parse_proxy(p).unwrap())
            .collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &proxies()),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_other_address_is_the_client() {
        let h = headers(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies()), ip("203.0.113.9"));
        let single = headers(&["203.0.113.9:51234"]);
        assert_eq!(
            client_ip(ip("192.168.1.7"), &single, &proxies()),
            ip("203.0.113.9")
        );
        // An IPv4 peer on a dual-stack socket.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &single, &proxies()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn without_a_usable_forwarded_address_the_nearest_known_one_counts() {
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies()),
            ip("10.0.0.1")
        );
        let garbage = headers(&["not-an-address, 10.9.9.9"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage, &proxies()),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn proxies_are_blocks_or_single_addresses() {
        assert!(parse_proxy("10.0.0.0/8")
            .unwrap()
            .contains(&ip("10.200.0.1")));
        assert!(parse_proxy(" 192.168.1.7 ")
            .unwrap()
            .contains(&ip("192.168.1.7")));
        assert!(!parse_proxy("192.168.1.7")
            .unwrap()
            .contains(&ip("192.168.1.8")));
        assert!(parse_proxy("::1").is_ok());
        assert!(parse_proxy("proxy.local")
            .unwrap_err()
            .contains("proxy.local"));
    }
}
