//! Text as a container: binary objects carried as text inside it.
//! - uuencode, yEnc and BinHex 4.0 blocks;
//! - `data:` URIs with base64 (HTML, SVG, CSS): each one a child;
//! - long base64 runs anywhere — string literals in scripts ("HTML
//!   smuggling"), blobs pasted into text — at least [`MIN_BASE64`]
//!   characters, when they decode to a recognised type.
//!
//! The text itself is still searched whole for embedded archives (the
//! reader reports that it consumed nothing).

use super::encoded::{self, Block};
use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::kind::Kind;

pub(crate) struct Text;

/// Shorter base64 runs are ordinary text (and cost nothing).
pub(crate) const MIN_BASE64: usize = 128;

impl Extractor for Text {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        cx.consumed(0);
        let cap = usize::try_from(cx.budget.limits.max_object_size).unwrap_or(usize::MAX);
        let mut found: Vec<(String, Vec<u8>, String, Option<String>)> = Vec::new();
        for Block {
            name,
            data,
            encoding,
            damaged,
        } in encoded::blocks(data, cap)
        {
            found.push((
                sanitize_name(&name),
                data,
                format!("a {encoding} block"),
                damaged,
            ));
        }
        // data: URIs declare a file: each one is a child, whatever it holds.
        let mut taken = Vec::new();
        for (n, (start, run)) in data_uris(data).into_iter().enumerate() {
            taken.push(start);
            let decoded = encoded::base64(run, cap);
            let (_, ext) = cx.identify(&decoded);
            found.push((
                format!("data-uri-{}@{start}.{ext}", n + 1),
                decoded,
                format!("a base64 data: URI at offset {start}, decoded"),
                None,
            ));
        }
        // Other long runs: children when they decode to a recognised type.
        for (n, (start, run)) in base64_runs(data).into_iter().enumerate() {
            if taken.contains(&start) {
                continue;
            }
            let decoded = encoded::base64(run, cap);
            let (kind, ext) = cx.identify(&decoded);
            if matches!(kind, Kind::Unknown | Kind::Text) {
                continue;
            }
            found.push((
                format!("base64-{}@{start}.{ext}", n + 1),
                decoded,
                format!("a base64 run at offset {start}, decoded"),
                None,
            ));
        }
        for (name, bytes, note, damaged) in found {
            let damage = damaged.map(Issue::corrupt);
            if hand_over(sink, cx, name, &bytes, Some(note), damage)? == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Whether [`Text`] would yield anything from `data` (decoding at most a
/// prefix of each run: enough to recognise its type by `identify`).
pub(crate) fn anything_inside(data: &[u8], identify: super::Identify) -> bool {
    !encoded::blocks(data, 1 << 16).is_empty()
        || !data_uris(data).is_empty()
        || base64_runs(data).into_iter().any(|(_, run)| {
            let head = run.get(..run.len().min(1 << 16)).unwrap_or(run);
            !matches!(
                identify(&encoded::base64(head, 1 << 16)).0,
                Kind::Unknown | Kind::Text
            )
        })
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')
}

/// `data:<type>;base64,<data>` (or `;charset=…;base64,`): where the data
/// starts, and its characters up to the first that is not base64.
fn data_uris(d: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(d, b"data:") {
        let head = d
            .get(at..at.saturating_add(200).min(d.len()))
            .unwrap_or_default();
        let Some(comma) = memchr::memchr(b',', head) else {
            continue;
        };
        let params = head.get(..comma).unwrap_or_default();
        if !params.to_ascii_lowercase().ends_with(b";base64") {
            continue;
        }
        let start = at + comma + 1;
        let len = d
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| is_b64(**c) || matches!(**c, b'=' | b'\r' | b'\n'))
            .count();
        if len >= 4
            && let Some(run) = d.get(start..start + len)
        {
            out.push((start, run));
        }
    }
    out
}

/// What a byte is to a base64 run: 1 a base64 character, 2 allowed inside
/// a run without counting (line breaks, `=` padding), 0 a byte that ends it.
fn b64_class(c: u8) -> u8 {
    if is_b64(c) {
        1
    } else if matches!(c, b'\r' | b'\n' | b'=') {
        2
    } else {
        0
    }
}

/// Runs of base64 characters (line breaks inside allowed, `=` padding at
/// the end) of at least [`MIN_BASE64`] characters: (offset, bytes).
///
/// A run lies between two bytes that end runs, so a stretch between two
/// such bytes shorter than [`MIN_BASE64`] can not hold one: the search
/// looks at the last byte of the next `MIN_BASE64` and jumps past the last
/// run-ending byte among them (in prose, a space a few bytes back), reading
/// a few bytes per 128 instead of every byte.
pub(crate) fn base64_runs(d: &[u8]) -> Vec<(usize, &[u8])> {
    let ends = |c: &u8| b64_class(*c) == 0;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(window) = d.get(pos..pos.saturating_add(MIN_BASE64)) {
        if let Some(k) = window.iter().rposition(ends) {
            pos += k + 1;
            continue;
        }
        // At least MIN_BASE64 bytes from `pos` end no run: find the end.
        let from = pos + MIN_BASE64;
        let end = d
            .get(from..)
            .and_then(|rest| rest.iter().position(ends))
            .map_or(d.len(), |k| from + k);
        let stretch = d.get(pos..end).unwrap_or_default();
        // A run starts at its first base64 character.
        let lead = stretch
            .iter()
            .position(|&c| b64_class(c) == 1)
            .unwrap_or(stretch.len());
        let run = stretch.get(lead..).unwrap_or_default();
        if run.iter().filter(|&&c| b64_class(c) == 1).count() >= MIN_BASE64 {
            out.push((pos + lead, run));
        }
        pos = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte reading the skipping search must agree with.
    fn runs_byte_by_byte(d: &[u8]) -> Vec<(usize, &[u8])> {
        let mut out = Vec::new();
        let mut i = 0usize;
        while i < d.len() {
            if !d.get(i).copied().is_some_and(is_b64) {
                i += 1;
                continue;
            }
            let start = i;
            let mut chars = 0usize;
            while let Some(&c) = d.get(i) {
                if is_b64(c) {
                    chars += 1;
                } else if !matches!(c, b'\r' | b'\n' | b'=') {
                    break;
                }
                i += 1;
            }
            if chars >= MIN_BASE64 {
                out.push((start, &d[start..i]));
            }
        }
        out
    }

    #[test]
    fn skipping_search_agrees_with_reading_every_byte() {
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"QUJDabc+/=-_\r\n =\t,.{}";
        for round in 0..400 {
            let len = (next() % 3000) as usize;
            // Mostly base64 characters in some rounds, prose-like in others.
            let dense = round % 3 == 0;
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if dense && r % 50 != 0 {
                        b"QUJDabc+/"[(r % 9) as usize]
                    } else {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            assert_eq!(base64_runs(&d), runs_byte_by_byte(&d), "round {round}");
        }
        let edge = format!("={}\n{}==", "A".repeat(64), "B".repeat(64));
        assert_eq!(
            base64_runs(edge.as_bytes()),
            runs_byte_by_byte(edge.as_bytes())
        );
        assert_eq!(base64_runs(edge.as_bytes()).len(), 1);
    }

    #[test]
    fn runs_need_the_floor() {
        let long = "QUJD".repeat(100);
        let text = format!("short aGVsbG8= words and a blob \"{long}\" end");
        let runs = base64_runs(text.as_bytes());
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].1, long.as_bytes());
    }
}
