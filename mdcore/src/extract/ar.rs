//! Unix `ar` archives: Debian packages (`debian-binary`, `control.tar.*`,
//! `data.tar.*`, opened in turn), static libraries, and the System V/GNU
//! and BSD (4.4BSD `#1/`) name forms, read from the layout GNU binutils and
//! libarchive read.
//!
//! Each member has a 60-byte header: a 16-byte name, four numeric fields
//! the scan does not need, a decimal size and the two bytes "`\n"; its
//! data follows, padded to an even offset. A GNU name `/N` is the entry at
//! offset N of the `//` member (names ending in "/\n"); a BSD name `#1/N`
//! is the first N bytes of the member's data. The GNU and BSD symbol
//! tables (`/`, `/SYM64/`, `__.SYMDEF`) are members like the others: every
//! byte of the archive is examined. Bytes after the last member are left to
//! the carver.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};

pub(crate) struct Ar;

const MAGIC: &[u8] = b"!<arch>\n";
const HEADER: usize = 60;
/// Members read from one archive.
const MAX_MEMBERS: usize = 1 << 20;

impl Extractor for Ar {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if !data.starts_with(MAGIC) {
            return Err(Issue::corrupt("not an ar archive"));
        }
        let mut at = MAGIC.len();
        let mut long_names: &[u8] = &[];
        let mut count = 0usize;
        while at < data.len() {
            count += 1;
            if count > MAX_MEMBERS {
                cx.consumed(at);
                return Err(Issue::corrupt("the ar archive has too many members"));
            }
            let Some(header) = data.get(at..at + HEADER) else {
                // Trailing newlines some writers add are not a member.
                if data
                    .get(at..)
                    .unwrap_or_default()
                    .iter()
                    .all(|b| *b == b'\n')
                {
                    at = data.len();
                    break;
                }
                cx.consumed(at);
                return Err(Issue::corrupt(format!(
                    "a truncated ar member header at offset {at}"
                )));
            };
            if header.get(58..60) != Some(&b"`\n"[..]) {
                cx.consumed(at);
                return Err(Issue::corrupt(format!(
                    "the ar member header at offset {at} does not end with \"`\\n\""
                )));
            }
            let size = header
                .get(48..58)
                .and_then(|f| std::str::from_utf8(f).ok())
                .map(str::trim)
                .and_then(|s| s.parse::<u64>().ok())
                .and_then(|s| usize::try_from(s).ok())
                .ok_or_else(|| {
                    cx.consumed(at);
                    Issue::corrupt(format!("the ar member at offset {at} has no valid size"))
                })?;
            let start = at + HEADER;
            let end = start.saturating_add(size);
            let body = data
                .get(start.min(data.len())..end.min(data.len()))
                .unwrap_or_default();
            let truncated = end > data.len();
            let raw_name = String::from_utf8_lossy(header.get(..16).unwrap_or_default())
                .trim_end()
                .to_string();
            at = end.saturating_add(size & 1).min(data.len());

            if raw_name == "//" {
                // The GNU long-name table: names, not content.
                long_names = body;
                continue;
            }
            let (name, body) = member_name(&raw_name, body, long_names);
            let damage = truncated.then(|| {
                Issue::corrupt(format!(
                    "the ar member `{name}` is cut short: {size} bytes declared, {} present",
                    body.len()
                ))
            });
            if hand_over(sink, cx, name, body, None, damage)? == Flow::Stop {
                break;
            }
            if truncated {
                break;
            }
        }
        cx.consumed(at);
        Ok(())
    }
}

/// The member's name, and its data (a BSD name is taken off its front).
fn member_name<'d>(raw: &str, body: &'d [u8], long_names: &[u8]) -> (String, &'d [u8]) {
    let named = |n: &str| {
        let n = sanitize_name(n);
        if n == "[unnamed]" {
            "ar-member".to_string()
        } else {
            n
        }
    };
    match raw {
        "/" | "/SYM64/" => return ("[symbol table]".into(), body),
        _ => {}
    }
    if let Some(len) = raw.strip_prefix("#1/")
        && let Ok(len) = len.trim().parse::<usize>()
    {
        let (name, rest) = body.split_at(len.min(body.len()));
        let name = String::from_utf8_lossy(name);
        return (named(name.trim_end_matches('\0')), rest);
    }
    if let Some(off) = raw.strip_prefix('/')
        && let Ok(off) = off.trim().parse::<usize>()
    {
        let rest = long_names.get(off..).unwrap_or_default();
        let end = rest
            .windows(2)
            .position(|w| w == b"/\n")
            .or_else(|| rest.iter().position(|b| *b == b'\n'))
            .unwrap_or(rest.len());
        let (name, _) = rest.split_at(end.min(rest.len()));
        return (named(&String::from_utf8_lossy(name)), body);
    }
    (named(raw.strip_suffix('/').unwrap_or(raw)), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_every_form() {
        let table = b"a_very_long_object_name.o/\nsecond.o/\n";
        assert_eq!(
            member_name("/0", b"x", table).0,
            "a_very_long_object_name.o"
        );
        assert_eq!(member_name("/27", b"x", table).0, "second.o");
        assert_eq!(member_name("short.o/", b"x", table).0, "short.o");
        assert_eq!(member_name("debian-binary", b"x", table).0, "debian-binary");
        let (n, body) = member_name("#1/12", b"bsd_named.o\0data", &[]);
        assert_eq!((n.as_str(), body), ("bsd_named.o", &b"data"[..]));
        assert_eq!(member_name("/", b"", &[]).0, "[symbol table]");
        assert_eq!(member_name("/999", b"", table).0, "ar-member");
        assert_eq!(member_name("../../etc/x/", b"", &[]).0, "etc/x");
    }
}
