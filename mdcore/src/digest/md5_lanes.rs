//! MD5 of many messages at once, one message per SIMD lane.
//!
//! One MD5 stream cannot go faster than its chain of dependent additions
//! (about 0.7 GB/s per core), and MD5 was the largest single cost of a scan
//! (a third of the CPU on archives of small files). Sibling objects are
//! independent, though: with AVX-512 sixteen of them advance together (AVX2:
//! eight), each 32-bit lane of a vector register carrying one message's
//! state. A lane that finishes its message takes the next one, longest
//! messages first, so the lanes stay busy until the last few.
//!
//! The lane operations are written as plain loops over `[u32; L]` and
//! compiled with the target feature enabled, so the compiler turns them into
//! vector instructions (rotations become `vprold`, the round functions
//! `vpternlogd` on AVX-512): no intrinsics and no `unsafe` beyond the one
//! call made after the CPU was checked. Without AVX2 (or off x86-64) each
//! message goes through the `md-5` crate.

use md5::{Digest, Md5};

/// MD5 of every message, in order.
pub(crate) fn md5_many(msgs: &[&[u8]]) -> Vec<[u8; 16]> {
    let mut out = vec![[0u8; 16]; msgs.len()];
    if msgs.len() > 1 && simd::run(msgs, &mut out) {
        return out;
    }
    for (o, m) in out.iter_mut().zip(msgs) {
        *o = Md5::digest(m).into();
    }
    out
}

/// How many messages advance together on this CPU (1 without SIMD).
pub(crate) fn lanes() -> usize {
    simd::lanes()
}

type V<const L: usize> = [u32; L];

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The sine-derived additive constants of RFC 1321.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// One MD5 step on every lane: `a = b + rotl(a + f(b, c, d) + k + m, s)`,
/// with `(k, s)` the step's constant and rotation.
#[inline(always)]
fn step<const L: usize>(
    a: &mut V<L>,
    b: &V<L>,
    c: &V<L>,
    d: &V<L>,
    m: &V<L>,
    (k, s): (u32, u32),
    f: impl Fn(u32, u32, u32) -> u32,
) {
    for ((((a, b), c), d), m) in a.iter_mut().zip(b).zip(c).zip(d).zip(m) {
        *a = b.wrapping_add(
            a.wrapping_add(f(*b, *c, *d))
                .wrapping_add(k)
                .wrapping_add(*m)
                .rotate_left(s),
        );
    }
}

fn f(x: u32, y: u32, z: u32) -> u32 {
    z ^ (x & (y ^ z))
}
fn g(x: u32, y: u32, z: u32) -> u32 {
    y ^ (z & (x ^ y))
}
fn h(x: u32, y: u32, z: u32) -> u32 {
    x ^ y ^ z
}
fn i(x: u32, y: u32, z: u32) -> u32 {
    y ^ (x | !z)
}

/// One 64-byte block of every lane (`m[w][lane]` is word `w` of that lane's
/// block) compressed into the lanes' states.
#[inline(always)]
fn compress<const L: usize>(state: &mut [V<L>; 4], m: &[V<L>; 16]) {
    let [mut a, mut b, mut c, mut d] = *state;
    macro_rules! round {
        ($fun:ident, $k:expr, $($w:expr, $s:expr);*) => {{
            let mut n = $k;
            $(
                step(&mut a, &b, &c, &d, &m[$w], (K.get(n).copied().unwrap_or(0), $s), $fun);
                let t = d; d = c; c = b; b = a; a = t;
                n += 1;
            )*
            let _ = n;
        }};
    }
    round!(f, 0,
        0, 7; 1, 12; 2, 17; 3, 22; 4, 7; 5, 12; 6, 17; 7, 22;
        8, 7; 9, 12; 10, 17; 11, 22; 12, 7; 13, 12; 14, 17; 15, 22);
    round!(g, 16,
        1, 5; 6, 9; 11, 14; 0, 20; 5, 5; 10, 9; 15, 14; 4, 20;
        9, 5; 14, 9; 3, 14; 8, 20; 13, 5; 2, 9; 7, 14; 12, 20);
    round!(h, 32,
        5, 4; 8, 11; 11, 16; 14, 23; 1, 4; 4, 11; 7, 16; 10, 23;
        13, 4; 0, 11; 3, 16; 6, 23; 9, 4; 12, 11; 15, 16; 2, 23);
    round!(i, 48,
        0, 6; 7, 10; 14, 15; 5, 21; 12, 6; 3, 10; 10, 15; 1, 21;
        8, 6; 15, 10; 6, 15; 13, 21; 4, 6; 11, 10; 2, 15; 9, 21);
    for (s, v) in state.iter_mut().zip([a, b, c, d]) {
        for (x, y) in s.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
}

/// One message in a lane: its full blocks straight from the message, then
/// one or two padded blocks built here.
struct Job<'a> {
    index: usize,
    data: &'a [u8],
    full: usize,
    tail: [u8; 128],
    blocks: usize,
    next: usize,
}

impl<'a> Job<'a> {
    fn new(index: usize, data: &'a [u8]) -> Job<'a> {
        let full = data.len() / 64;
        let rest = data.get(full * 64..).unwrap_or_default();
        let mut tail = [0u8; 128];
        let tail_blocks = if rest.len() < 56 { 1 } else { 2 };
        if let Some(t) = tail.get_mut(..rest.len()) {
            t.copy_from_slice(rest);
        }
        if let Some(b) = tail.get_mut(rest.len()) {
            *b = 0x80;
        }
        let bits = (data.len() as u64).wrapping_mul(8).to_le_bytes();
        if let Some(t) = tail.get_mut(tail_blocks * 64 - 8..tail_blocks * 64) {
            t.copy_from_slice(&bits);
        }
        Job {
            index,
            data,
            full,
            tail,
            blocks: full + tail_blocks,
            next: 0,
        }
    }

    fn block(&self) -> &[u8] {
        if self.next < self.full {
            self.data
                .get(self.next * 64..self.next * 64 + 64)
                .unwrap_or_default()
        } else {
            let at = (self.next - self.full) * 64;
            self.tail.get(at..at + 64).unwrap_or_default()
        }
    }
}

/// Runs every message through `L` lanes, longest first.
#[inline(always)]
fn schedule<const L: usize>(msgs: &[&[u8]], out: &mut [[u8; 16]]) {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_unstable_by_key(|&n| std::cmp::Reverse(msgs.get(n).map_or(0, |m| m.len())));
    let mut queue = order.into_iter();
    let mut lanes: [Option<Job<'_>>; L] = std::array::from_fn(|_| None);
    let mut state = [[0u32; L]; 4];
    let mut m = [[0u32; L]; 16];
    loop {
        let mut busy = false;
        for (lane, slot) in lanes.iter_mut().enumerate() {
            if slot.is_none()
                && let Some(n) = queue.next()
            {
                *slot = Some(Job::new(n, msgs.get(n).copied().unwrap_or_default()));
                for (s, init) in state.iter_mut().zip(INIT) {
                    if let Some(x) = s.get_mut(lane) {
                        *x = init;
                    }
                }
            }
            let Some(job) = slot else { continue };
            busy = true;
            for (w, word) in m.iter_mut().zip(job.block().chunks_exact(4)) {
                if let (Some(x), Ok(bytes)) = (w.get_mut(lane), word.try_into()) {
                    *x = u32::from_le_bytes(bytes);
                }
            }
        }
        if !busy {
            return;
        }
        compress(&mut state, &m);
        for (lane, slot) in lanes.iter_mut().enumerate() {
            let Some(job) = slot else { continue };
            job.next += 1;
            if job.next < job.blocks {
                continue;
            }
            if let Some(o) = out.get_mut(job.index) {
                for (chunk, s) in o.chunks_exact_mut(4).zip(&state) {
                    chunk.copy_from_slice(&s.get(lane).copied().unwrap_or(0).to_le_bytes());
                }
            }
            *slot = None;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::schedule;

    #[target_feature(enable = "avx512f")]
    fn run16(msgs: &[&[u8]], out: &mut [[u8; 16]]) {
        schedule::<16>(msgs, out);
    }

    #[target_feature(enable = "avx2")]
    fn run8(msgs: &[&[u8]], out: &mut [[u8; 16]]) {
        schedule::<8>(msgs, out);
    }

    /// AVX-512F, unless `MDSCAN_NO_AVX512` is set (to measure the AVX2
    /// path on a machine that has both).
    fn avx512() -> bool {
        static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX512.get_or_init(|| {
            std::is_x86_feature_detected!("avx512f")
                && std::env::var_os("MDSCAN_NO_AVX512").is_none()
        })
    }

    pub(super) fn lanes() -> usize {
        if avx512() {
            16
        } else if std::is_x86_feature_detected!("avx2") {
            8
        } else {
            1
        }
    }

    /// Hashes on the widest vector unit the CPU has; false when it has none.
    #[allow(unsafe_code)]
    pub(super) fn run(msgs: &[&[u8]], out: &mut [[u8; 16]]) -> bool {
        if avx512() {
            // SAFETY: the CPU was just checked for AVX-512F, the only
            // requirement of `run16`.
            unsafe { run16(msgs, out) };
            true
        } else if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2, the only
            // requirement of `run8`.
            unsafe { run8(msgs, out) };
            true
        } else {
            false
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub(super) fn lanes() -> usize {
        1
    }
    pub(super) fn run(_: &[&[u8]], _: &mut [[u8; 16]]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length around the padding boundaries, lanes of unequal
    /// length, more messages than lanes, and both vector widths.
    #[test]
    fn equals_md5_for_every_length_and_lane_mix() {
        let bytes: Vec<u8> = (0..70_000u32)
            .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut msgs: Vec<&[u8]> = (0..200).map(|n| &bytes[n..n + n * 3 % 191]).collect();
        msgs.push(&bytes[..0]);
        msgs.push(&bytes[5..60_005]);
        msgs.push(&bytes[..55]);
        msgs.push(&bytes[..56]);
        msgs.push(&bytes[..64]);
        msgs.push(&bytes[..119]);
        msgs.push(&bytes[..120]);
        let expect: Vec<[u8; 16]> = msgs.iter().map(|m| Md5::digest(m).into()).collect();
        assert_eq!(md5_many(&msgs), expect);
        let mut out = vec![[0u8; 16]; msgs.len()];
        schedule::<8>(&msgs, &mut out);
        assert_eq!(out, expect);
        schedule::<16>(&msgs, &mut out);
        assert_eq!(out, expect);
        schedule::<1>(&msgs[..9], &mut out[..9]);
        assert_eq!(out[..9], expect[..9]);
        assert_eq!(md5_many(&msgs[..1]), expect[..1]);
        assert!(md5_many(&[]).is_empty());
        assert!(lanes() >= 1);
    }
}
