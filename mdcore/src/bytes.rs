//! Checked little/big-endian reads from attacker-controlled bytes: every read
//! is an `Option`, never an index that can panic.

pub(crate) fn array<const N: usize>(d: &[u8], off: usize) -> Option<[u8; N]> {
    d.get(off..off.checked_add(N)?)?.try_into().ok()
}

pub(crate) fn le_u16(d: &[u8], off: usize) -> Option<u16> {
    array(d, off).map(u16::from_le_bytes)
}

pub(crate) fn le_u32(d: &[u8], off: usize) -> Option<u32> {
    array(d, off).map(u32::from_le_bytes)
}

pub(crate) fn le_u64(d: &[u8], off: usize) -> Option<u64> {
    array(d, off).map(u64::from_le_bytes)
}

pub(crate) fn be_u32(d: &[u8], off: usize) -> Option<u32> {
    array(d, off).map(u32::from_be_bytes)
}

pub(crate) fn be_u64(d: &[u8], off: usize) -> Option<u64> {
    array(d, off).map(u64::from_be_bytes)
}

/// Whether `magic` stands at offset `off` of `d`.
pub(crate) fn at(d: &[u8], off: usize, magic: &[u8]) -> bool {
    d.get(off..).is_some_and(|rest| rest.starts_with(magic))
}

/// The UTF-16 little-endian code units of `d` (a trailing odd byte is
/// not a unit).
pub(crate) fn utf16le(d: &[u8]) -> impl Iterator<Item = u16> + '_ {
    d.chunks_exact(2).map(|c| {
        u16::from_le_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    })
}

/// UTF-16 little-endian text, unpaired surrogates replaced.
pub(crate) fn utf16le_lossy(d: &[u8]) -> String {
    String::from_utf16_lossy(&utf16le(d).collect::<Vec<_>>())
}

/// UTF-16 big-endian text, unpaired surrogates replaced.
pub(crate) fn utf16be_lossy(d: &[u8]) -> String {
    let units: Vec<u16> = d
        .chunks_exact(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let d = [1, 2, 3, 4, 5];
        assert_eq!(le_u16(&d, 0), Some(0x0201));
        assert_eq!(be_u32(&d, 1), Some(0x0203_0405));
        assert_eq!(le_u32(&d, 1), Some(0x0504_0302));
        assert_eq!(be_u32(&d, 2), None);
        assert_eq!(le_u32(&d, usize::MAX), None);
    }
}
