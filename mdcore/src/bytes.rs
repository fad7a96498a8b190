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
