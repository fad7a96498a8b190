#![no_main]
//! The disc image extractor (ISO 9660, Joliet, Rock Ridge, El Torito, UDF)
//! on raw bytes, read as ISO 9660 and as UDF.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mdscan_fuzz::extract(mdcore::Kind::Iso9660, data);
    mdscan_fuzz::extract(mdcore::Kind::Udf, data);
});
