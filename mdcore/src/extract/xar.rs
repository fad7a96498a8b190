//! xar (`.xar`, macOS `.pkg`, Safari extensions) as libarchive (bsdtar)
//! and 7-Zip read it: a 28-byte (or longer) header, the table of contents
//! — zlib'd XML — and the heap. Every `<file>` with `<data>` is a member
//! under its path (directories' names joined; base64 names decoded), and
//! every extended attribute with data (`<ea>`, where macOS keeps resource
//! forks) is a member named `path:attribute`. Encodings: none
//! (`application/octet-stream`), zlib (`application/x-gzip`, as xar means
//! it), bzip2, xz and LZMA-alone; another is 23 for that member. The TOC
//! checksum and each member's archived and extracted checksums (SHA-1,
//! MD5, SHA-256, SHA-512) and sizes are checked: a mismatch is damage.

use std::io::{self, Read};

use md5::Md5;
use quick_xml::Reader;
use quick_xml::events::Event;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::digest::hex;
use crate::verdict::ResultCode;
use crate::xml::text_of;

pub(crate) struct Xar;

pub(crate) const MAGIC: &[u8] = b"xar!";
/// The most a table of contents may inflate to.
const MAX_TOC: u64 = 64 << 20;
/// Directories nested deeper than this are refused (hostile TOCs).
const MAX_DEPTH: usize = 256;

/// Where a member's bytes are and how they are stored.
#[derive(Debug, Default, Clone)]
struct Data {
    offset: Option<u64>,
    length: Option<u64>,
    size: Option<u64>,
    encoding: Option<String>,
    archived: Option<(String, String)>,
    extracted: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct Frame {
    name: Option<String>,
    kind: Option<String>,
    data: Option<Data>,
    eas: Vec<(String, Data)>,
}

#[derive(Debug)]
struct Member {
    name: String,
    /// `None`: a regular file without data (empty).
    data: Option<Data>,
}

/// A running digest of one of the styles xar names.
enum Hasher {
    Sha1(Sha1),
    Md5(Md5),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(style: &str) -> Option<Hasher> {
        Some(match style.to_ascii_lowercase().as_str() {
            "sha1" => Hasher::Sha1(Sha1::new()),
            "md5" => Hasher::Md5(Md5::new()),
            "sha256" => Hasher::Sha256(Sha256::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            _ => return None,
        })
    }
    fn update(&mut self, d: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(d),
            Hasher::Md5(h) => h.update(d),
            Hasher::Sha256(h) => h.update(d),
            Hasher::Sha512(h) => h.update(d),
        }
    }
    fn hex(self) -> String {
        match self {
            Hasher::Sha1(h) => hex(&h.finalize()),
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

/// Whether `d` has the digest `(style, hex)`; `None` for a style not known.
fn matches(d: &[u8], (style, want): &(String, String)) -> Option<bool> {
    let mut h = Hasher::new(style)?;
    h.update(d);
    Some(h.hex().eq_ignore_ascii_case(want.trim()))
}

/// A reader that digests what passes through it and counts it.
struct Digesting<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(buf.get(..n).unwrap_or_default());
        }
        self.count += n as u64;
        Ok(n)
    }
}

struct Header {
    size: usize,
    toc_packed: u64,
    toc_size: u64,
    /// 0 none, 1 SHA-1, 2 MD5, 3 named in the header.
    cksum: u32,
    cksum_name: Option<String>,
}

fn header(d: &[u8]) -> Result<Header, Issue> {
    let bad = || Issue::corrupt("xar header cut short");
    if !d.starts_with(MAGIC) {
        return Err(Issue::corrupt("not a xar archive"));
    }
    let be32 = |at: usize| crate::bytes::be_u32(d, at);
    let be64 = |at: usize| crate::bytes::be_u64(d, at);
    let size = usize::from(
        crate::bytes::array::<2>(d, 4)
            .map(u16::from_be_bytes)
            .ok_or_else(bad)?,
    );
    let toc_packed = be64(8).ok_or_else(bad)?;
    let toc_size = be64(16).ok_or_else(bad)?;
    let cksum = be32(24).ok_or_else(bad)?;
    if size < 28 || size > d.len() {
        return Err(Issue::corrupt(format!(
            "xar header size {size} is impossible"
        )));
    }
    let cksum_name = (cksum == 3).then(|| {
        let raw = d.get(28..size).unwrap_or_default();
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
    });
    Ok(Header {
        size,
        toc_packed,
        toc_size,
        cksum,
        cksum_name,
    })
}

/// The table of contents read: its members, and the heap span holding
/// the TOC's own checksum.
struct Toc {
    members: Vec<Member>,
    checksum: Option<(u64, u64)>,
}

fn element_text(reader: &mut Reader<&[u8]>, end: &[u8]) -> Result<String, quick_xml::Error> {
    let mut text = String::new();
    loop {
        match reader.read_event()? {
            Event::End(e) if e.local_name().as_ref() == end => return Ok(text),
            Event::Eof => return Ok(text),
            Event::Start(e) => {
                // Unexpected markup inside a value: skip it whole.
                let name = e.name().as_ref().to_vec();
                reader.read_to_end(quick_xml::name::QName(&name))?;
            }
            ev => text.push_str(&text_of(&ev)),
        }
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == key).then(|| String::from_utf8_lossy(&a.value).into_owned())
    })
}

fn number(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

fn parse_toc(xml: &str) -> Result<Toc, Issue> {
    let xml_err = |e: quick_xml::Error| Issue::corrupt(format!("xar table of contents: {e}"));
    let mut reader = Reader::from_str(xml);
    let mut files: Vec<Frame> = Vec::new();
    let mut members = Vec::new();
    let mut checksum = None;
    // Elements open above the current event, by local name.
    let mut path: Vec<Vec<u8>> = Vec::new();
    // The `<ea>` being read and its `<data>`-like fields.
    let mut ea: Option<(String, Data)> = None;
    let mut toc_sum: (Option<u64>, Option<u64>) = (None, None);
    loop {
        let ev = reader.read_event().map_err(xml_err)?;
        match ev {
            Event::Eof => break,
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_vec();
                let parent = path.last().map(Vec::as_slice);
                let in_data = parent == Some(b"data") || (parent == Some(b"ea") && ea.is_some());
                match (local.as_slice(), parent) {
                    (b"file", _) => {
                        if files.len() >= MAX_DEPTH {
                            return Err(Issue::corrupt("xar directories nested too deep"));
                        }
                        files.push(Frame::default());
                        path.push(local);
                    }
                    (b"name", Some(b"file")) => {
                        let b64 = attr(&e, b"enctype").is_some_and(|t| t == "base64");
                        let text = element_text(&mut reader, b"name").map_err(xml_err)?;
                        let name = if b64 {
                            let raw = super::encoded::base64(text.as_bytes(), 4096);
                            String::from_utf8_lossy(&raw).into_owned()
                        } else {
                            text
                        };
                        if let Some(f) = files.last_mut() {
                            f.name = Some(name);
                        }
                    }
                    (b"type", Some(b"file")) => {
                        let text = element_text(&mut reader, b"type").map_err(xml_err)?;
                        if let Some(f) = files.last_mut() {
                            f.kind = Some(text);
                        }
                    }
                    (b"name", Some(b"ea")) => {
                        let text = element_text(&mut reader, b"name").map_err(xml_err)?;
                        if let Some((n, _)) = ea.as_mut() {
                            *n = text;
                        }
                    }
                    (b"data", Some(b"file")) => {
                        if let Some(f) = files.last_mut() {
                            f.data = Some(Data::default());
                        }
                        path.push(local);
                    }
                    (b"ea", Some(b"file")) => {
                        ea = Some((String::new(), Data::default()));
                        path.push(local);
                    }
                    (field, _) if in_data => {
                        let style = attr(&e, b"style");
                        let text = element_text(&mut reader, field).map_err(xml_err)?;
                        let d = if parent == Some(b"ea") {
                            ea.as_mut().map(|(_, d)| d)
                        } else {
                            files.last_mut().and_then(|f| f.data.as_mut())
                        };
                        if let Some(d) = d {
                            match field {
                                b"offset" => d.offset = number(&text),
                                b"length" => d.length = number(&text),
                                b"size" => d.size = number(&text),
                                b"encoding" => d.encoding = style,
                                b"archived-checksum" => {
                                    d.archived = style.map(|s| (s, text));
                                }
                                b"extracted-checksum" => {
                                    d.extracted = style.map(|s| (s, text));
                                }
                                _ => {}
                            }
                        }
                    }
                    (b"offset" | b"size", Some(b"checksum")) if files.is_empty() => {
                        let text = element_text(&mut reader, &local).map_err(xml_err)?;
                        if local == b"offset" {
                            toc_sum.0 = number(&text);
                        } else {
                            toc_sum.1 = number(&text);
                        }
                    }
                    _ => path.push(local),
                }
            }
            Event::Empty(e) => {
                // `<encoding style="…"/>`.
                let parent = path.last().map(Vec::as_slice);
                if e.local_name().as_ref() == b"encoding" {
                    let style = attr(&e, b"style");
                    let d = if parent == Some(b"ea") {
                        ea.as_mut().map(|(_, d)| d)
                    } else if parent == Some(b"data") {
                        files.last_mut().and_then(|f| f.data.as_mut())
                    } else {
                        None
                    };
                    if let Some(d) = d {
                        d.encoding = style;
                    }
                }
            }
            Event::End(e) => {
                let local = e.local_name().as_ref().to_vec();
                if path.last() == Some(&local) {
                    path.pop();
                }
                match local.as_slice() {
                    b"ea" => {
                        if let (Some(item), Some(f)) = (ea.take(), files.last_mut()) {
                            f.eas.push(item);
                        }
                    }
                    b"file" => {
                        let Some(f) = files.pop() else { continue };
                        let mut names: Vec<&str> = files
                            .iter()
                            .map(|p| p.name.as_deref().unwrap_or("?"))
                            .collect();
                        names.push(f.name.as_deref().unwrap_or("?"));
                        let full = names.join("/");
                        if f.data.is_some() || f.kind.as_deref() == Some("file") {
                            members.push(Member {
                                name: full.clone(),
                                data: f.data,
                            });
                        }
                        for (ea_name, data) in f.eas {
                            if data.offset.is_some() {
                                members.push(Member {
                                    name: format!("{full}:{ea_name}"),
                                    data: Some(data),
                                });
                            }
                        }
                    }
                    b"checksum" if files.is_empty() => {
                        if let (Some(o), Some(s)) = toc_sum {
                            checksum = Some((o, s));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !files.is_empty() {
        return Err(Issue::corrupt(
            "xar table of contents: a file element is not closed",
        ));
    }
    Ok(Toc { members, checksum })
}

/// A decoder for `encoding` over `raw`, or why there is none.
fn decoder<'a>(encoding: Option<&str>, raw: &'a [u8]) -> Result<Box<dyn Read + 'a>, Issue> {
    Ok(match encoding.unwrap_or("application/octet-stream") {
        "application/octet-stream" => Box::new(raw),
        "application/x-gzip" => Box::new(flate2::read::ZlibDecoder::new(raw)),
        "application/x-bzip2" => Box::new(bzip2::read::BzDecoder::new(raw)),
        "application/x-xz" => Box::new(super::xz::decoder(raw)?),
        "application/x-lzma" => {
            let stream = liblzma::stream::Stream::new_auto_decoder(super::xz::MEMORY_LIMIT, 0)
                .map_err(|e| Issue::corrupt(format!("can not start lzma: {e}")))?;
            Box::new(liblzma::read::XzDecoder::new_stream(raw, stream))
        }
        other => {
            return Err(Issue::new(
                ResultCode::UnsupportedFileType,
                format!("a xar member encoded as `{other}`, which mdscan does not decode"),
            ));
        }
    })
}

/// One member decoded and checked against its TOC entry.
fn member(
    heap: &[u8],
    m: &Member,
    budget: &crate::limits::Budget,
) -> (Child, Option<crate::limits::Stop>) {
    let name = sanitize_name(&m.name);
    let Some(d) = &m.data else {
        let produced = read_child(&mut &[][..], budget);
        let stop = produced.stop;
        return (produced.into_child(name), stop);
    };
    let (Some(offset), Some(length)) = (d.offset, d.length) else {
        return (
            Child::failed(
                name,
                Issue::corrupt("xar member without an offset or a length"),
            ),
            None,
        );
    };
    let raw = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(length).ok())
        .and_then(|(o, l)| heap.get(o..o.checked_add(l)?));
    let Some(raw) = raw else {
        return (
            Child::failed(
                name,
                Issue::corrupt("xar member lies past the end of the heap"),
            ),
            None,
        );
    };
    let archived_ok = d.archived.as_ref().and_then(|a| matches(raw, a));
    let dec = match decoder(d.encoding.as_deref(), raw) {
        Ok(dec) => dec,
        Err(issue) => {
            // The stored bytes are still an object (a hash list may name
            // them); the member blocks.
            let mut whole = raw;
            let produced = read_child(&mut whole, budget);
            let stop = produced.stop;
            let mut c = produced.into_child(name);
            c.issue = Some(issue);
            return (c, stop);
        }
    };
    let mut reader = Digesting {
        inner: dec,
        hasher: d.extracted.as_ref().and_then(|(s, _)| Hasher::new(s)),
        count: 0,
    };
    let produced = read_child(&mut reader, budget);
    let stop = produced.stop;
    let complete = produced.issue.is_none() && stop.is_none();
    let mut c = produced.into_child(name);
    if complete {
        let extracted_ok = match (reader.hasher.take(), d.extracted.as_ref()) {
            (Some(h), Some((_, want))) => Some(h.hex().eq_ignore_ascii_case(want.trim())),
            _ => None,
        };
        let problem = if archived_ok == Some(false) {
            Some("its archived checksum does not match".to_string())
        } else if extracted_ok == Some(false) {
            Some("its extracted checksum does not match".to_string())
        } else if d.size.is_some_and(|s| s != reader.count) {
            Some(format!(
                "it decodes to {} bytes and the table of contents says {}",
                reader.count,
                d.size.unwrap_or(0)
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            c.issue = Some(Issue::corrupt(format!("xar member damaged: {p}")));
        }
    }
    (c, stop)
}

impl Extractor for Xar {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let h = header(data)?;
        let toc_end = usize::try_from(h.toc_packed)
            .ok()
            .and_then(|n| h.size.checked_add(n))
            .filter(|e| *e <= data.len())
            .ok_or_else(|| Issue::corrupt("xar table of contents runs past the file"))?;
        let packed = data.get(h.size..toc_end).unwrap_or_default();
        if h.toc_size > MAX_TOC {
            return Err(Issue::new(
                ResultCode::ExceededArchiveSize,
                format!(
                    "xar table of contents of {} bytes (mdscan reads up to {} MiB)",
                    h.toc_size,
                    MAX_TOC >> 20
                ),
            ));
        }
        let mut xml = Vec::new();
        flate2::read::ZlibDecoder::new(packed)
            .take(MAX_TOC + 1)
            .read_to_end(&mut xml)
            .map_err(|e| Issue::corrupt(format!("xar table of contents does not inflate: {e}")))?;
        if xml.len() as u64 != h.toc_size {
            return Err(Issue::corrupt(format!(
                "xar table of contents inflates to {} bytes, its header says {}",
                xml.len(),
                h.toc_size
            )));
        }
        let xml = std::str::from_utf8(&xml)
            .map_err(|_| Issue::corrupt("xar table of contents is not UTF-8"))?;
        let toc = parse_toc(xml)?;
        let heap = data.get(toc_end..).unwrap_or_default();
        let mut end = toc_end;
        let mut reach = |o: u64, l: u64| {
            if let Some(e) = o
                .checked_add(l)
                .and_then(|e| usize::try_from(e).ok())
                .and_then(|e| e.checked_add(toc_end))
            {
                end = end.max(e.min(data.len()));
            }
        };
        let mut toc_problem = None;
        if let Some((o, s)) = toc.checksum {
            reach(o, s);
            let stored = usize::try_from(o)
                .ok()
                .zip(usize::try_from(s).ok())
                .and_then(|(o, s)| heap.get(o..o.checked_add(s)?));
            let style = match h.cksum {
                1 => Some("sha1".to_string()),
                2 => Some("md5".to_string()),
                3 => h.cksum_name.clone(),
                _ => None,
            };
            if let (Some(stored), Some(style)) = (stored, style) {
                if matches(packed, &(style, hex(stored))) == Some(false) {
                    toc_problem = Some("the table of contents' checksum does not match");
                }
            } else if h.cksum != 0 {
                toc_problem = Some("the table of contents' checksum is missing");
            }
        }
        for d in toc.members.iter().filter_map(|m| m.data.as_ref()) {
            if let (Some(o), Some(l)) = (d.offset, d.length) {
                reach(o, l);
            }
        }
        cx.consumed(end);
        for m in &toc.members {
            let (child, stop) = member(heap, m, cx.budget);
            if sink(Entry::Ready(child)) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        match toc_problem {
            Some(p) => Err(Issue::corrupt(format!("xar archive damaged: {p}"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_files_base64_names_and_attributes_are_read() {
        let xml = r#"<?xml version="1.0"?><xar><toc>
            <checksum style="sha1"><offset>0</offset><size>20</size></checksum>
            <file id="1"><name>dir</name><type>directory</type>
              <file id="2"><name enctype="base64">YS50eHQ=</name>
                <data><length>3</length><offset>20</offset><size>3</size>
                  <encoding style="application/octet-stream"/></data>
                <ea id="3"><name>com.apple.ResourceFork</name><offset>23</offset>
                  <length>2</length><size>2</size><encoding style="application/octet-stream"/></ea>
              </file>
            </file></toc></xar>"#;
        let toc = parse_toc(xml).unwrap();
        assert_eq!(toc.checksum, Some((0, 20)));
        let names: Vec<&str> = toc.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["dir/a.txt", "dir/a.txt:com.apple.ResourceFork"]);
        assert_eq!(toc.members[0].data.as_ref().unwrap().offset, Some(20));
        assert_eq!(
            toc.members[1].data.as_ref().unwrap().encoding.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn unclosed_or_too_deep_tocs_are_refused() {
        assert!(parse_toc("<xar><toc><file><name>a</name>").is_err());
        let deep = "<file>".repeat(MAX_DEPTH + 1);
        assert!(parse_toc(&format!("<xar><toc>{deep}")).is_err());
    }
}
