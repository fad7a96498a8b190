//! XML reading shared by the sanitizers that rewrite XML (Office Open XML
//! parts, SVG): UTF-8 only, every element closed, errors naming the part.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::SanitizeError;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

pub(super) fn utf8<'a>(name: &str, data: &'a [u8]) -> Result<&'a str, SanitizeError> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    std::str::from_utf8(data).map_err(|_| {
        fail(format!(
            "part {name} is not UTF-8 XML; it can not be rewritten"
        ))
    })
}

pub(super) fn xml_err(name: &str, e: impl std::fmt::Display) -> SanitizeError {
    fail(format!("part {name} is not well-formed XML: {e}"))
}

/// A reader that also refuses a part whose elements are not all closed
/// (the underlying reader checks that end tags match, not that they come).
pub(super) struct Xml<'a> {
    r: Reader<&'a [u8]>,
    depth: usize,
    name: &'a str,
}

impl<'a> Xml<'a> {
    pub(super) fn new(name: &'a str, data: &'a [u8]) -> Result<Xml<'a>, SanitizeError> {
        Ok(Xml {
            r: Reader::from_str(utf8(name, data)?),
            depth: 0,
            name,
        })
    }

    pub(super) fn next(&mut self) -> Result<Event<'a>, SanitizeError> {
        let ev = self.r.read_event().map_err(|e| xml_err(self.name, e))?;
        match &ev {
            Event::Start(_) => self.depth += 1,
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            Event::Eof if self.depth > 0 => {
                return Err(xml_err(self.name, "an element is not closed"));
            }
            _ => {}
        }
        Ok(ev)
    }
}

/// An attribute's unescaped value.
pub(super) fn attr(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
            .flatten()
    })
}
