//! WARC web archives (`.warc`; `.warc.gz` is gzip members around it, which
//! the gzip reader joins): every record's block is a member, named after
//! its `WARC-Target-URI` (scheme dropped) — the bytes bsdtar writes out for
//! a record. A block that is an HTTP message (`Content-Type:
//! application/http`, as crawlers store responses and requests) is also
//! read as a browser reads it: its body after the headers, chunked
//! transfer coding undone and the content coding (gzip, deflate, br,
//! zstd) decoded, as a second member. A record cut short, or a header
//! block that is not WARC, is damage; bytes after the last record are
//! left to the carver.

use std::io::Read;

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct Warc;

/// Header blocks longer than this are not WARC (real ones are < 2 KiB).
const MAX_HEADER: usize = 64 << 10;

/// Whether `d` starts a WARC record: `WARC/` and a version digit.
pub(crate) fn is_record(d: &[u8]) -> bool {
    d.starts_with(b"WARC/") && d.get(5).is_some_and(u8::is_ascii_digit)
}

/// The end of the header block (after its blank line) and its lines.
fn header_block(d: &[u8]) -> Option<(usize, Vec<(String, String)>)> {
    let window = d.get(..MAX_HEADER.min(d.len()))?;
    let end = memchr::memmem::find(window, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| memchr::memmem::find(window, b"\n\n").map(|i| i + 2))?;
    let text = String::from_utf8_lossy(window.get(..end)?);
    let fields = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Some((end, fields))
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A member name from a target URI: the scheme dropped, the rest a path.
fn uri_name(uri: &str) -> String {
    let uri = uri.trim_matches(|c| c == '<' || c == '>');
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let name = sanitize_name(rest);
    if name.is_empty() || rest.ends_with('/') {
        format!(
            "{}index",
            if name.is_empty() {
                String::new()
            } else {
                format!("{name}/")
            }
        )
    } else {
        name
    }
}

/// Chunked transfer coding undone (RFC 9112 §7.1); what decoded before
/// damage, and whether it was whole.
fn dechunk(mut d: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = memchr::memmem::find(d, b"\r\n") else {
            return (out, false);
        };
        let line = String::from_utf8_lossy(d.get(..eol).unwrap_or_default());
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return (out, false);
        };
        d = d.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return (out, true);
        }
        let Some(chunk) = d.get(..size) else {
            out.extend_from_slice(d);
            return (out, false);
        };
        out.extend_from_slice(chunk);
        d = d.get(size..).unwrap_or_default();
        d = d.strip_prefix(b"\r\n").unwrap_or(d);
    }
}

/// A decoder over an HTTP body and the note that says what it undoes.
type Body<'a> = (Box<dyn Read + 'a>, String);

/// The body of an HTTP message, as a client reads it: a reader over the
/// decoded bytes and a note on what was undone, or why it cannot be.
fn http_body<'a>(block: &'a [u8], owned: &'a mut Vec<u8>) -> Option<Result<Body<'a>, Issue>> {
    let (end, fields) = header_block(block)?;
    let body = block.get(end..)?;
    let mut undone = Vec::new();
    let body: &[u8] = match field(&fields, "transfer-encoding") {
        Some(te) if te.to_ascii_lowercase().contains("chunked") => {
            let (plain, whole) = dechunk(body);
            if !whole {
                return Some(Err(Issue::corrupt(
                    "HTTP body's chunked coding is cut short or damaged",
                )));
            }
            *owned = plain;
            undone.push("chunked");
            let shared: &'a Vec<u8> = owned;
            shared.as_slice()
        }
        _ => body,
    };
    let coding = field(&fields, "content-encoding")
        .unwrap_or("identity")
        .to_ascii_lowercase();
    let reader: Box<dyn Read + 'a> = match coding.trim() {
        "" | "identity" => Box::new(body),
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        // "deflate" is zlib by the standard; some servers send raw deflate.
        "deflate" => {
            if body.first().is_some_and(|b| b & 0x0f == 8) && body.len() > 1 {
                Box::new(flate2::read::ZlibDecoder::new(body))
            } else {
                Box::new(flate2::read::DeflateDecoder::new(body))
            }
        }
        "br" => Box::new(brotli::Decompressor::new(body, 4096)),
        "zstd" => match zstd::stream::read::Decoder::with_buffer(body) {
            Ok(mut d) => {
                if d.window_log_max(27).is_err() {
                    return Some(Err(Issue::corrupt("can not configure zstd")));
                }
                Box::new(d)
            }
            Err(e) => return Some(Err(Issue::corrupt(format!("can not start zstd: {e}")))),
        },
        other => {
            return Some(Err(Issue::new(
                ResultCode::UnsupportedFileType,
                format!("HTTP body with content coding `{other}`, which mdscan does not decode"),
            )));
        }
    };
    if coding != "identity" && !coding.is_empty() {
        undone.push(match coding.as_str() {
            "x-gzip" => "gzip",
            c => c,
        });
    }
    let note = if undone.is_empty() {
        "the HTTP body of this record, its headers removed".to_string()
    } else {
        format!(
            "the HTTP body of this record, its headers removed and its {} coding undone",
            undone.join(" and ")
        )
    };
    Some(Ok((reader, note)))
}

impl Extractor for Warc {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut pos = 0usize;
        let mut records = 0usize;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            if !is_record(rest) {
                break;
            }
            let Some((head, fields)) = header_block(rest) else {
                cx.consumed(pos.saturating_add(1));
                return Err(Issue::corrupt("WARC record header without its end"));
            };
            let Some(length) =
                field(&fields, "content-length").and_then(|v| v.parse::<usize>().ok())
            else {
                cx.consumed(pos.saturating_add(1));
                return Err(Issue::corrupt("WARC record without a Content-Length"));
            };
            records += 1;
            let start = pos + head;
            let block = start
                .checked_add(length)
                .and_then(|end| data.get(start..end));
            let Some(block) = block else {
                cx.consumed(data.len());
                let mut cut = data.get(start..).unwrap_or_default();
                let produced = read_child(&mut cut, cx.budget);
                let mut child = produced.into_child(record_name(&fields, records));
                child.issue = Some(Issue::corrupt(format!(
                    "WARC record cut short: {length} bytes declared, {} present",
                    cut.len()
                )));
                sink(Entry::Ready(child));
                return Ok(());
            };
            pos = start + length;
            // Records end with two CRLFs (some writers put one or none).
            let after = data.get(pos..).unwrap_or_default();
            pos += if after.starts_with(b"\r\n\r\n") {
                4
            } else if after.starts_with(b"\r\n") {
                2
            } else {
                0
            };
            if block.is_empty() {
                continue;
            }
            let name = record_name(&fields, records);
            let mut raw = block;
            let produced = read_child(&mut raw, cx.budget);
            let stop = produced.stop;
            if sink(Entry::Ready(produced.into_child(name.clone()))) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
            let http = field(&fields, "content-type")
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/http"));
            if http {
                let mut owned = Vec::new();
                let child = match http_body(block, &mut owned) {
                    None => Child::failed(
                        name,
                        Issue::corrupt(
                            "an HTTP message in a WARC record without the end of its headers",
                        ),
                    ),
                    Some(Err(issue)) => Child::failed(name, issue),
                    Some(Ok((mut reader, note))) => {
                        let produced = read_child(&mut reader, cx.budget);
                        if let Some(s) = produced.stop {
                            sink(Entry::Ready(produced.into_child(name)));
                            return Err(Issue::stopped(s));
                        }
                        let mut c = produced.into_child(name);
                        c.note = Some(note);
                        c
                    }
                };
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
            }
        }
        if records == 0 {
            return Err(Issue::corrupt("not a WARC record"));
        }
        cx.consumed(pos);
        Ok(())
    }
}

/// A record's member name: its target URI, else its type and number.
fn record_name(fields: &[(String, String)], n: usize) -> String {
    match field(fields, "warc-target-uri") {
        Some(uri) if !uri.is_empty() => uri_name(uri),
        _ => format!(
            "{}-{n}",
            field(fields, "warc-type").map_or("record".to_string(), sanitize_name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_target_uri() {
        assert_eq!(
            uri_name("http://example.com/a/b.exe?x=1"),
            "example.com/a/b.exe"
        );
        assert_eq!(uri_name("<https://example.com/>"), "example.com/index");
        assert_eq!(uri_name("file://dir/x.txt"), "dir/x.txt");
    }

    #[test]
    fn chunked_bodies_are_joined_and_cuts_are_seen() {
        let (d, whole) = dechunk(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
        assert_eq!((d.as_slice(), whole), (&b"hello world"[..], true));
        let (d, whole) = dechunk(b"5\r\nhel");
        assert_eq!((d.as_slice(), whole), (&b"hel"[..], false));
        assert!(!dechunk(b"zz\r\n").1);
    }
}
