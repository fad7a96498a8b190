//! Quantum, the cabinet compression method of David Stafford's Quantum
//! archiver that Microsoft adopted (CAB method 2): an adaptive arithmetic
//! coder over seven models (a selector, four literal models of 64 symbols,
//! three match-position models, a match-length model) and an LZ77 window
//! of 2^10 to 2^21 bytes. Written from the format as 7-Zip and libmspack
//! decode it: each cabinet data block restarts the range coder and ends
//! on a byte boundary with zero padding; the models and the window run on
//! across the blocks of a folder. Every step is checked: a block that
//! reads past its bytes, a match that reaches before the start of the
//! data, a length past the block, or non-zero padding is an error — never
//! a panic — and the cabinet reader blocks the files behind it.

/// Symbols of the literal models and the most of any model.
const LIT_SYMBOLS: usize = 64;
const LIT_SELECTORS: usize = 4;
const MATCH_SELECTORS: usize = 3;
const SELECTORS: usize = LIT_SELECTORS + MATCH_SELECTORS;
const LEN_SYMBOLS: usize = 27;
const MATCH_MIN: usize = 3;
const SIMPLE_LEN_SLOTS: usize = 6;
const UPDATE_STEP: u16 = 8;
const FREQ_SUM_MAX: u16 = 3800;
const REORDER_START: u32 = 4;
const REORDER_EVERY: u32 = 50;

/// An adaptive model: cumulative frequencies (`freqs[i]` counts symbols
/// `i..`, `freqs[n]` is 0) and the symbol at each rank.
#[derive(Clone)]
struct Model {
    n: usize,
    reorder: u32,
    vals: [u8; LIT_SYMBOLS],
    freqs: [u16; LIT_SYMBOLS + 1],
}

impl Model {
    fn new(n: usize, first: usize) -> Model {
        let mut m = Model {
            n,
            reorder: REORDER_START,
            vals: [0; LIT_SYMBOLS],
            freqs: [0; LIT_SYMBOLS + 1],
        };
        for i in 0..n {
            if let (Some(f), Some(v)) = (m.freqs.get_mut(i), m.vals.get_mut(i)) {
                *f = (n - i) as u16;
                *v = (first + i) as u8;
            }
        }
        m
    }

    fn f(&self, i: usize) -> u16 {
        self.freqs.get(i).copied().unwrap_or(0)
    }

    fn set(&mut self, i: usize, v: u16) {
        if let Some(f) = self.freqs.get_mut(i) {
            *f = v;
        }
    }

    /// Halves the counts once they grow too big; every 50th time the
    /// symbols are also re-sorted by frequency.
    fn rescale(&mut self) {
        let n = self.n;
        self.reorder -= 1;
        if self.reorder == 0 {
            self.reorder = REORDER_EVERY;
            // Cumulative to single counts, halved (rounded up).
            let mut next = 0u16;
            for i in (0..n).rev() {
                let freq = self.f(i);
                self.set(i, (freq.wrapping_sub(next).wrapping_add(1)) >> 1);
                next = freq;
            }
            // Sorted by count, highest first (a selection sort, as the
            // reference decoders do: ties keep their order).
            for i in 0..n.saturating_sub(1) {
                let mut freq = self.f(i);
                for k in i + 1..n {
                    let other = self.f(k);
                    if freq < other {
                        self.set(k, freq);
                        self.set(i, other);
                        freq = other;
                        self.vals.swap(i, k);
                    }
                }
            }
            // Back to cumulative.
            let mut sum = 0u16;
            for i in (0..n).rev() {
                sum = sum.wrapping_add(self.f(i));
                self.set(i, sum);
            }
        } else {
            let mut next = 1u16;
            for i in (0..n).rev() {
                let freq = (self.f(i) >> 1).max(next);
                self.set(i, freq);
                next = freq.wrapping_add(1);
            }
        }
    }

    fn decode(&mut self, rc: &mut RangeDecoder<'_>) -> Result<usize, &'static str> {
        if self.f(0) > FREQ_SUM_MAX {
            self.rescale();
        }
        let total = self.f(0);
        if total == 0 {
            return Err("a Quantum model with no frequencies");
        }
        self.set(0, total.wrapping_add(UPDATE_STEP));
        let threshold = rc.threshold(u32::from(total));
        let mut k = 1;
        let mut freq = self.f(1);
        while k < self.n && u32::from(freq) > threshold {
            self.set(k, freq.wrapping_add(UPDATE_STEP));
            k += 1;
            freq = self.f(k);
        }
        let symbol = self.vals.get(k - 1).copied().unwrap_or(0);
        let end = self.f(k - 1).wrapping_sub(UPDATE_STEP);
        rc.decode(u32::from(freq), u32::from(end), u32::from(total))?;
        Ok(usize::from(symbol))
    }
}

/// The range decoder over one data block.
struct RangeDecoder<'a> {
    data: &'a [u8],
    /// Bits consumed from `data` (the first 16 went into `code`).
    bit: usize,
    low: u32,
    range: u32,
    code: u32,
}

impl<'a> RangeDecoder<'a> {
    fn new(data: &'a [u8]) -> Self {
        let b = |i: usize| u32::from(data.get(i).copied().unwrap_or(0));
        RangeDecoder {
            data,
            bit: 16,
            low: 0,
            range: 0x10000,
            code: (b(0) << 8) | b(1),
        }
    }

    /// The next `n` (1..=25) bits, most significant first; bytes past the
    /// block read as zeros (and are noticed by [`Self::overran`]).
    fn bits(&mut self, n: u32) -> u32 {
        let at = self.bit >> 3;
        let word = (0..4).fold(0u32, |w, i| {
            (w << 8) | u32::from(self.data.get(at + i).copied().unwrap_or(0))
        });
        let shifted = word << (self.bit & 7);
        self.bit += n as usize;
        shifted >> (32 - n)
    }

    fn overran(&self) -> bool {
        (self.bit >> 3) > self.data.len()
    }

    fn threshold(&self, total: u32) -> u32 {
        (self
            .code
            .wrapping_add(1)
            .wrapping_mul(total)
            .wrapping_sub(1))
            / self.range
    }

    fn decode(&mut self, start: u32, end: u32, total: u32) -> Result<(), &'static str> {
        let mut hi = 0u32.wrapping_sub(self.low.wrapping_add(end.wrapping_mul(self.range) / total));
        let offset = start.wrapping_mul(self.range) / total;
        let mut lo = self.low.wrapping_add(offset);
        self.code = self.code.wrapping_sub(offset);
        let mut shift = 0u32;
        lo ^= hi;
        while lo & 0x8000 != 0 && shift < 32 {
            lo <<= 1;
            hi <<= 1;
            shift += 1;
        }
        lo ^= hi;
        let mut an = lo & hi;
        while an & 0x4000 != 0 && shift < 32 {
            an <<= 1;
            lo <<= 1;
            hi <<= 1;
            shift += 1;
        }
        self.low = lo;
        self.range = ((!hi).wrapping_sub(lo) & 0xffff) + 1;
        if shift > 24 {
            return Err("a Quantum range step of impossible width");
        }
        if shift > 0 {
            self.code = (self.code << shift).wrapping_add(self.bits(shift));
        }
        Ok(())
    }

    /// The block's end: zero padding to a byte boundary, then nothing.
    fn finish(&mut self) -> bool {
        let n = 2 + ((16 - 2 - (self.bit & 7) as u32) & 7);
        self.bits(n) == 0 && (self.bit >> 3) == self.data.len()
    }
}

/// A Quantum folder's decoder: feed it each data block in turn.
pub(crate) struct Quantum {
    dict_bits: u32,
    window: Vec<u8>,
    pos: usize,
    wrapped: bool,
    selector: Model,
    literals: Vec<Model>,
    positions: Vec<Model>,
    lengths: Model,
}

impl std::fmt::Debug for Quantum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quantum")
            .field("dict_bits", &self.dict_bits)
            .finish_non_exhaustive()
    }
}

impl Quantum {
    /// A decoder for a folder with a window of 2^`dict_bits` bytes
    /// (10..=21, as the folder's compression type says).
    pub(crate) fn new(dict_bits: u32) -> Result<Quantum, String> {
        if !(10..=21).contains(&dict_bits) {
            return Err(format!("Quantum window of 2^{dict_bits} bytes is invalid"));
        }
        let items = (dict_bits as usize) * 2;
        Ok(Quantum {
            dict_bits,
            window: vec![0; 1 << dict_bits.max(15)],
            pos: 0,
            wrapped: false,
            selector: Model::new(SELECTORS, 0),
            literals: (0..LIT_SELECTORS)
                .map(|i| Model::new(LIT_SYMBOLS, i * LIT_SYMBOLS))
                .collect(),
            positions: [24usize, 36, 42]
                .iter()
                .map(|n| Model::new(items.min(*n), 0))
                .collect(),
            lengths: Model::new(LEN_SYMBOLS, MATCH_MIN + MATCH_SELECTORS - 1),
        })
    }

    /// Decodes one data block of `packed` bytes to `size` bytes.
    pub(crate) fn block(&mut self, packed: &[u8], size: usize) -> Result<Vec<u8>, &'static str> {
        if packed.len() < 2 {
            return Err("a Quantum block shorter than 2 bytes");
        }
        let win = self.window.len();
        if self.pos == win {
            self.pos = 0;
            self.wrapped = true;
        }
        if size > win - self.pos {
            return Err("a Quantum block that runs past the window's end");
        }
        let start = self.pos;
        let mut rc = RangeDecoder::new(packed);
        let mut left = size;
        while left > 0 {
            if rc.overran() {
                return Err("a Quantum block read past its bytes");
            }
            let selector = self.selector.decode(&mut rc)?;
            if selector < LIT_SELECTORS {
                let model = self
                    .literals
                    .get_mut(selector)
                    .ok_or("a Quantum selector out of range")?;
                let b = model.decode(&mut rc)?;
                if let Some(slot) = self.window.get_mut(self.pos) {
                    *slot = b as u8;
                }
                self.pos += 1;
                left -= 1;
                continue;
            }
            let mut len = selector - LIT_SELECTORS + MATCH_MIN;
            if selector == SELECTORS - 1 {
                len = self.lengths.decode(&mut rc)?;
                let simple = SIMPLE_LEN_SLOTS + MATCH_MIN + MATCH_SELECTORS - 1;
                if len >= simple {
                    len -= SIMPLE_LEN_SLOTS - 4 + MATCH_MIN + MATCH_SELECTORS - 1;
                    let direct = (len >> 2) as u32;
                    len = ((4 | (len & 3)) << direct) - 8 + simple;
                    if direct < 6 {
                        len += rc.bits(direct) as usize;
                    }
                }
            }
            let model = self
                .positions
                .get_mut(selector - LIT_SELECTORS)
                .ok_or("a Quantum selector out of range")?;
            let mut dist = model.decode(&mut rc)?;
            if dist >= 4 {
                let direct = ((dist >> 1) - 1) as u32;
                dist = ((2 | (dist & 1)) << direct) + rc.bits(direct) as usize;
            }
            if len > left {
                return Err("a Quantum match runs past the block");
            }
            left -= len;
            // The source: `dist + 1` bytes back, across the window's end
            // once the window has wrapped.
            let back = dist + 1;
            let mut src = if back <= self.pos {
                self.pos - back
            } else if self.wrapped && back <= win {
                win - (back - self.pos)
            } else {
                return Err("a Quantum match reaches before the start of the data");
            };
            for _ in 0..len {
                let b = self.window.get(src).copied().unwrap_or(0);
                if let Some(slot) = self.window.get_mut(self.pos) {
                    *slot = b;
                }
                self.pos += 1;
                src = (src + 1) % win;
            }
        }
        if !rc.finish() {
            return Err("a Quantum block does not end where its bytes end");
        }
        Ok(self
            .window
            .get(start..self.pos)
            .unwrap_or_default()
            .to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_outside_10_to_21_bits_are_refused() {
        assert!(Quantum::new(9).is_err());
        assert!(Quantum::new(22).is_err());
        assert!(Quantum::new(10).is_ok());
    }

    /// Random blocks (the shape of hostile input): an error or bytes,
    /// never a panic or a block longer than asked, across a folder.
    #[test]
    fn random_blocks_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let mut q = Quantum::new(10 + (round % 12) as u32).unwrap();
            for _ in 0..4 {
                let len = (next() % 200) as usize;
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let size = (next() % 40_000) as usize;
                if let Ok(out) = q.block(&data, size) {
                    assert_eq!(out.len(), size);
                }
            }
        }
    }
}
