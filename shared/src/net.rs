//! Which IP addresses are reachable from the public internet: the guard every outgoing request
//! of Veilmark passes (the crawler's fetches, the server's webhooks), so that a name resolving
//! to a loopback, private or link-local address (or an IPv6 form embedding one) cannot make the
//! server reach its own network. Pure; the callers resolve names and check every address.

use std::net::IpAddr;

/// True for addresses reachable from the public internet.
///
/// An IPv6 address that carries an IPv4 address (IPv4-mapped, -compatible and -translated,
/// NAT64's `64:ff9b::/96`, 6to4's `2002::/16`, both IPv4 addresses of a Teredo `2001::/32`
/// address) is public only when every IPv4 address inside it is: otherwise a name resolving to
/// `64:ff9b::7f00:1` reaches 127.0.0.1 through a NAT64 gateway. The local-use NAT64 prefix
/// `64:ff9b:1::/48` (RFC 8215) is never public, whatever it embeds.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let embedded = embedded_ipv4(v6);
            if embedded.iter().flatten().next().is_some() {
                return embedded
                    .iter()
                    .flatten()
                    .all(|v4| is_public(IpAddr::V4(*v4)));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, local use (64:ff9b:1::/48) and rest
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x3fff && (s[1] & 0xf000) == 0) // documentation (RFC 9637)
                || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0) // benchmarking
                || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // ORCHID
                || s[0] == 0x5f00) // SRv6 SIDs
        }
    }
}

/// The IPv4 addresses an IPv6 address leads to, if it is of a form that embeds them: up to two
/// (Teredo carries its server's and, obfuscated, its client's).
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> [Option<std::net::Ipv4Addr>; 2] {
    use std::net::Ipv4Addr;
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let zero = |r: std::ops::Range<usize>| s[r].iter().all(|&x| x == 0);
    if zero(0..5) && s[5] == 0xffff {
        // ::ffff:a.b.c.d, IPv4-mapped.
        [Some(v4(s[6], s[7])), None]
    } else if zero(0..6) {
        // ::a.b.c.d, IPv4-compatible (deprecated; also :: and ::1, which map to 0.0.0.x).
        [Some(v4(s[6], s[7])), None]
    } else if zero(0..4) && s[4] == 0xffff && s[5] == 0 {
        // ::ffff:0:a.b.c.d, IPv4-translated (SIIT).
        [Some(v4(s[6], s[7])), None]
    } else if s[0] == 0x0064 && s[1] == 0xff9b && zero(2..6) {
        // 64:ff9b::a.b.c.d, NAT64 well-known prefix (RFC 6052).
        [Some(v4(s[6], s[7])), None]
    } else if s[0] == 0x2002 {
        // 2002:AABB:CCDD::/48, 6to4 (RFC 3056).
        [Some(v4(s[1], s[2])), None]
    } else if s[0] == 0x2001 && s[1] == 0 {
        // 2001:0:SERVER:FLAGS:PORT:CLIENT, Teredo (RFC 4380); the client is stored inverted.
        [Some(v4(s[2], s[3])), Some(v4(!s[6], !s[7]))]
    } else {
        [None, None]
    }
}
