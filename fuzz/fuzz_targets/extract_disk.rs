#![no_main]
//! The disk image extractors on raw bytes: partition tables (MBR, GPT),
//! dynamic VHD, FAT and NTFS volumes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for kind in [
        mdcore::Kind::Partitioned,
        mdcore::Kind::Vhd,
        mdcore::Kind::Fat,
        mdcore::Kind::Ntfs,
    ] {
        mdscan_fuzz::extract(kind, data);
    }
});
