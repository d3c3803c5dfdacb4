//! Shutting addresses out in the kernel: a classic BPF socket filter on the listening socket
//! that drops every packet from a set of addresses, so their connection attempts never
//! complete a handshake.
//!
//! Closing a shut-out address's connections as they are accepted still lets the kernel finish
//! each handshake, wake the accept loop and absorb whatever the client pushed before the close;
//! a client reconnecting in a loop turns that into most of a core (`docs/server.md#load-test`).
//! A dropped SYN costs the server nothing, and the client's own TCP stack backs off (1 s, 3 s,
//! 7 s, …) instead of hammering. A socket filter on a listening TCP socket sees the SYN (and
//! the handshake's last ACK) before a connection exists; accepted connections inherit the
//! filter as it was when they were created, so connections already open are not affected.
//!
//! Linux only (`SO_ATTACH_FILTER`); elsewhere [`SynFilter::attach`] reports that it is not
//! available and the accept loop's own check is the only shut-out.

use crate::client_addr::AddrKey;

/// Addresses the kernel filter holds at most: every jump in a classic BPF program is at most
/// 255 instructions, and each IPv6 /64 takes four. Beyond this, the accept loop closes the rest.
pub const MAX_FILTERED: usize = 48;

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when the test holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

// Opcodes (linux/filter.h, linux/bpf_common.h): class | size | mode, with BPF_LD = 0 and
// BPF_W = 0.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B (0x10) | BPF_ABS (0x20)
const LD_MEM: u16 = 0x60; // BPF_LD | BPF_MEM
const ST: u16 = 0x02; // BPF_ST
const RSH_K: u16 = 0x04 | 0x70; // BPF_ALU | BPF_RSH | BPF_K
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
/// `SKF_NET_OFF`: offsets from the network (IP) header rather than the transport header.
const NET: u32 = 0xFFF0_0000;

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter program that drops packets from `keys` (at most [`MAX_FILTERED`]; the rest are
/// left out) and keeps everything else.
#[must_use]
pub fn program(keys: &[AddrKey]) -> Vec<Insn> {
    let keys = &keys[..keys.len().min(MAX_FILTERED)];
    let v4: Vec<u32> = keys
        .iter()
        .filter_map(|k| match k {
            AddrKey::V4(a) => Some(u32::from(*a)),
            AddrKey::V6Net64(_) => None,
        })
        .collect();
    let v6: Vec<u64> = keys
        .iter()
        .filter_map(|k| match k {
            AddrKey::V6Net64(n) => Some(*n),
            AddrKey::V4(_) => None,
        })
        .collect();

    // Blocks are laid out as: version test, IPv4 block, IPv6 block, drop. Each block ends in
    // "keep"; a match jumps forward to the final drop.
    let mut v4_block = vec![insn(LD_W_ABS, 0, 0, NET + 12)]; // IPv4 source address
    for _ in &v4 {
        v4_block.push(insn(JEQ_K, 0, 0, 0)); // jt patched to the drop below
    }
    v4_block.push(insn(RET_K, 0, 0, u32::MAX));
    let mut v6_block = vec![
        insn(LD_W_ABS, 0, 0, NET + 8), // first half of the source /64
        insn(ST, 0, 0, 0),
        insn(LD_W_ABS, 0, 0, NET + 12), // second half
        insn(ST, 0, 0, 1),
    ];
    for _ in &v6 {
        v6_block.extend([
            insn(LD_MEM, 0, 0, 0),
            insn(JEQ_K, 0, 2, 0), // high word differs: skip this entry's last two
            insn(LD_MEM, 0, 0, 1),
            insn(JEQ_K, 0, 0, 0), // jt patched to the drop
        ]);
    }
    v6_block.push(insn(RET_K, 0, 0, u32::MAX));

    let head = [
        insn(LD_B_ABS, 0, 0, NET), // version and header length
        insn(RSH_K, 0, 0, 4),
        // IPv4: fall into its block; otherwise jump over it.
        insn(JEQ_K, 0, u8::try_from(v4_block.len()).unwrap_or(u8::MAX), 4),
    ];
    let mut prog: Vec<Insn> = head.to_vec();
    prog.extend(v4_block);
    prog.extend(v6_block);
    let drop_at = prog.len();
    prog.push(insn(RET_K, 0, 0, 0));

    // Fill in the constants and the forward jumps to the drop.
    let mut v4_iter = v4.iter();
    let mut v6_iter = v6.iter();
    let mut pc = head.len() + 1; // first IPv4 comparison
    for _ in 0..v4.len() {
        let a = *v4_iter.next().unwrap_or(&0);
        prog[pc].k = a;
        prog[pc].jt = u8::try_from(drop_at - pc - 1).unwrap_or(u8::MAX);
        pc += 1;
    }
    pc += 1 + 4; // IPv4 "keep", the IPv6 loads
    for _ in 0..v6.len() {
        let net = *v6_iter.next().unwrap_or(&0);
        let [hi, lo] = [net >> 32, net & 0xFFFF_FFFF].map(|w| u32::try_from(w).unwrap_or(0));
        prog[pc + 1].k = hi;
        prog[pc + 3].k = lo;
        prog[pc + 3].jt = u8::try_from(drop_at - pc - 4).unwrap_or(u8::MAX);
        pc += 4;
    }
    prog
}

/// Runs `prog` on a packet whose network header is `ip` (a test aid: the kernel runs the real
/// one). Returns the filter's verdict: 0 drops the packet.
#[must_use]
pub fn run(prog: &[Insn], ip: &[u8]) -> u32 {
    let mut a: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let load = |k: u32, n: usize| -> Option<u32> {
        let off = usize::try_from(k.checked_sub(NET)?).ok()?;
        let bytes = ip.get(off..off + n)?;
        Some(bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
    };
    while let Some(i) = prog.get(pc) {
        pc += 1;
        match i.code {
            LD_W_ABS => match load(i.k, 4) {
                Some(v) => a = v,
                None => return 0,
            },
            LD_B_ABS => match load(i.k, 1) {
                Some(v) => a = v,
                None => return 0,
            },
            LD_MEM => a = mem[i.k as usize & 15],
            ST => mem[i.k as usize & 15] = a,
            RSH_K => a >>= i.k,
            JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
            RET_K => return i.k,
            _ => return 0,
        }
    }
    0
}

/// The listening socket's filter: a duplicate of its descriptor, so the accept loop and the
/// code that shuts addresses out can both reach it.
#[derive(Debug)]
pub struct SynFilter {
    #[cfg(target_os = "linux")]
    socket: socket2::Socket,
}

impl SynFilter {
    /// A handle on `listener`'s filter (none is attached until [`SynFilter::set`]).
    ///
    /// # Errors
    /// The descriptor cannot be duplicated, or socket filters are not available here.
    #[cfg(target_os = "linux")]
    pub fn attach(listener: &tokio::net::TcpListener) -> std::io::Result<Self> {
        Ok(Self {
            socket: socket2::SockRef::from(listener).try_clone()?,
        })
    }

    /// Socket filters are Linux-only here.
    ///
    /// # Errors
    /// Always.
    #[cfg(not(target_os = "linux"))]
    pub fn attach(_listener: &tokio::net::TcpListener) -> std::io::Result<Self> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "socket filters are available on Linux only",
        ))
    }

    /// Drops packets from `keys` from now on (replacing the previous set; an empty set removes
    /// the filter).
    ///
    /// # Errors
    /// The kernel refused the program.
    #[cfg(target_os = "linux")]
    pub fn set(&self, keys: &[AddrKey]) -> std::io::Result<()> {
        if keys.is_empty() {
            return match self.socket.detach_filter() {
                // ENOENT: no filter was attached.
                Err(e) if e.raw_os_error() == Some(2) => Ok(()),
                other => other,
            };
        }
        let prog: Vec<socket2::SockFilter> = program(keys)
            .iter()
            .map(|i| socket2::SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        self.socket.attach_filter(&prog)
    }

    /// Not available off Linux.
    ///
    /// # Errors
    /// Never reached: [`SynFilter::attach`] fails first.
    #[cfg(not(target_os = "linux"))]
    pub fn set(&self, _keys: &[AddrKey]) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn v4_header(src: Ipv4Addr) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0] = 0x45;
        h[12..16].copy_from_slice(&src.octets());
        h
    }

    fn v6_header(src: Ipv6Addr) -> Vec<u8> {
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[8..24].copy_from_slice(&src.octets());
        h
    }

    fn key(ip: &str) -> AddrKey {
        AddrKey::of(ip.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn drops_listed_addresses_and_keeps_the_rest() {
        let keys = [
            key("127.0.0.2"),
            key("2001:db8:1:2::5"),
            key("10.1.2.3"),
            key("2001:db8:9::1"),
        ];
        let prog = program(&keys);
        let v4 = |s: &str| run(&prog, &v4_header(s.parse().unwrap()));
        let v6 = |s: &str| run(&prog, &v6_header(s.parse().unwrap()));
        assert_eq!(v4("127.0.0.2"), 0);
        assert_eq!(v4("10.1.2.3"), 0);
        assert_eq!(v4("127.0.0.1"), u32::MAX);
        assert_eq!(v4("10.1.2.4"), u32::MAX);
        // The whole /64 is one key; the next /64 is not.
        assert_eq!(v6("2001:db8:1:2:ffff::1"), 0);
        assert_eq!(v6("2001:db8:9:0:1::"), 0);
        assert_eq!(v6("2001:db8:1:3::5"), u32::MAX);
        // Same low word, other high word.
        assert_eq!(v6("2001:db9:1:2::5"), u32::MAX);
        assert_eq!(v6("::1"), u32::MAX);
    }

    #[test]
    fn an_empty_set_keeps_everything_and_a_full_one_fits_its_jumps() {
        let prog = program(&[]);
        assert_eq!(run(&prog, &v4_header(Ipv4Addr::LOCALHOST)), u32::MAX);
        // The largest program: every jump must still reach the drop (u8 offsets).
        let keys: Vec<AddrKey> = (0..MAX_FILTERED as u64 + 10)
            .map(|i| AddrKey::V6Net64(0x2001_0db8_0000_0000 + i))
            .collect();
        let prog = program(&keys);
        let last =
            Ipv6Addr::from(u128::from(0x2001_0db8_0000_0000u64 + MAX_FILTERED as u64 - 1) << 64);
        assert_eq!(run(&prog, &v6_header(last)), 0);
        let beyond =
            Ipv6Addr::from(u128::from(0x2001_0db8_0000_0000u64 + MAX_FILTERED as u64) << 64);
        assert_eq!(
            run(&prog, &v6_header(beyond)),
            u32::MAX,
            "only MAX_FILTERED are held"
        );
        assert!(prog.len() < 256);
    }
}
