#![no_main]
//! MD5s in SIMD lanes against one at a time: the input is cut into up to 40
//! messages (lengths from its first bytes), `Digests::of_many` must equal
//! `Digests::of` of each.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (cuts, mut rest) = data.split_at(data.len().min(40));
    let mut msgs = Vec::new();
    for c in cuts {
        let n = (usize::from(*c) * 37) % (rest.len() + 1);
        let (m, r) = rest.split_at(n);
        msgs.push(m);
        rest = r;
    }
    msgs.push(rest);
    let many = mdcore::Digests::of_many(&msgs);
    let one: Vec<_> = msgs.iter().map(|m| mdcore::Digests::of(m)).collect();
    assert_eq!(many, one);
});
