//! SVG: rewritten element by element by an XML reader (a namespace prefix
//! does not hide an element: names compare by local name, without case).
//! Removed: `script` and the elements that carry foreign or active content
//! (`foreignObject`, `iframe`, `embed`, `object`, `handler`, `listener`),
//! event-handler attributes (`on…`), references that run script or reach
//! outside the file (`href`, `xlink:href`, `src`, `action` that are not
//! `#fragment` or `data:image/…`), animations that set a reference or a
//! handler, styles that fetch (`url(…)` outside the file, `@import`,
//! `expression(`), `xml:base`, processing instructions (external style
//! sheets) and the document type. A document type that declares entities
//! fails (entity expansion is how XML bombs and external entities work).

use quick_xml::Writer;
use quick_xml::events::{BytesStart, Event};

use super::xml::{Xml, attr, xml_err};
use super::{SanitizeError, Sanitized, Tally};

const NAME: &str = "the SVG document";

/// Elements removed with everything inside them.
const REMOVED: &[&str] = &[
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "listener",
    "frame",
    "frameset",
    "applet",
    "meta",
    "base",
];

/// Whether `data` is an SVG document: XML whose first element is `svg`.
pub(super) fn is_svg(data: &[u8]) -> bool {
    let head = data.get(..4096).unwrap_or(data);
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    if !t.starts_with('<') {
        return false;
    }
    // The first element (past the declaration, comments, the doctype).
    let mut rest = t;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        let local = name.rsplit(':').next().unwrap_or(&name);
        return local.eq_ignore_ascii_case("svg");
    }
    false
}

/// Whether a reference that fetches stays: within the document, or an
/// embedded raster image (shared with the HTML sanitizer).
pub(super) fn safe_reference(v: &str) -> bool {
    let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let v = v.to_ascii_lowercase();
    v.starts_with('#')
        || ["png", "jpeg", "jpg", "gif", "webp", "bmp"]
            .iter()
            .any(|f| v.starts_with(&format!("data:image/{f}")))
}

/// Whether CSS text fetches or runs something (shared with the HTML
/// sanitizer).
pub(super) fn active_css(css: &str) -> bool {
    let c: String = css
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\\')
        .collect::<String>()
        .to_ascii_lowercase();
    if c.contains("@import")
        || c.contains("expression(")
        || c.contains("behavior:")
        || c.contains("-moz-binding")
    {
        return true;
    }
    c.match_indices("url(").any(|(at, _)| {
        let inner = c[at + 4..].trim_start_matches(['"', '\'']);
        !safe_reference(inner)
    })
}

fn lower_local(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase()
}

/// The element without its active attributes; `None` when nothing changed.
fn clean_attributes(
    e: &BytesStart<'_>,
    tally: &mut Tally,
) -> Result<Option<BytesStart<'static>>, SanitizeError> {
    let mut kept = Vec::new();
    let mut changed = false;
    for a in e.attributes() {
        let a = a.map_err(|err| xml_err(NAME, err))?;
        let key = a.key;
        let local = String::from_utf8_lossy(key.local_name().as_ref()).to_ascii_lowercase();
        let full = String::from_utf8_lossy(key.as_ref()).to_ascii_lowercase();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| xml_err(NAME, err))?
            .into_owned();
        let why = if local.starts_with("on") {
            Some("event handler")
        } else if matches!(local.as_str(), "href" | "src" | "action" | "formaction")
            && !safe_reference(&value)
        {
            let v = value.trim_start().to_ascii_lowercase();
            Some(
                if v.starts_with("javascript:") || v.starts_with("vbscript:") {
                    "script URL"
                } else {
                    "external reference"
                },
            )
        } else if full == "xml:base" {
            Some("external reference")
        } else if local == "style" && active_css(&value) {
            Some("style")
        } else {
            None
        };
        match why {
            Some(kind) => {
                tally.add(
                    "removed",
                    kind,
                    format!("{}=\"{value}\"", String::from_utf8_lossy(key.as_ref())),
                );
                changed = true;
            }
            None => kept.push((key.as_ref().to_vec(), a.value.into_owned())),
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut out = BytesStart::new(String::from_utf8_lossy(e.name().as_ref()).into_owned());
    for (k, v) in &kept {
        out.push_attribute(quick_xml::events::attributes::Attribute {
            key: quick_xml::name::QName(k),
            value: std::borrow::Cow::Borrowed(v),
        });
    }
    Ok(Some(out.into_owned()))
}

pub(super) fn sanitize(data: &[u8]) -> Result<Sanitized, SanitizeError> {
    let mut r = Xml::new(NAME, data)?;
    let mut w = Writer::new(Vec::with_capacity(data.len()));
    let mut tally = Tally::default();
    // Depth inside an element being removed.
    let mut skip = 0usize;
    // A `style` element held until its end decides it.
    let mut style: Option<(Vec<Event<'static>>, String)> = None;
    let mut seen_root = false;
    loop {
        let ev = r.next()?;
        if matches!(ev, Event::Eof) {
            break;
        }
        if skip > 0 {
            match ev {
                Event::Start(_) => skip += 1,
                Event::End(_) => skip -= 1,
                _ => {}
            }
            continue;
        }
        if let Some((held, text)) = style.as_mut() {
            match &ev {
                Event::Text(t) => text.push_str(&String::from_utf8_lossy(t)),
                Event::CData(t) => text.push_str(&String::from_utf8_lossy(t)),
                // A reference is resolved before CSS reads the text
                // (`url&#40;…`): a style sheet with one is not kept.
                Event::GeneralRef(_) => text.push_str("@import"),
                _ => {}
            }
            let end = matches!(&ev, Event::End(_));
            held.push(ev.into_owned());
            if !end {
                continue;
            }
            if active_css(text) {
                tally.add("removed", "style", "a style sheet that fetches or runs");
            } else {
                for e in held.drain(..) {
                    w.write_event(e).map_err(|e| xml_err(NAME, e))?;
                }
            }
            style = None;
            continue;
        }
        match &ev {
            Event::DocType(d) => {
                let text = String::from_utf8_lossy(d).to_ascii_uppercase();
                if text.contains("<!ENTITY") || text.contains("ENTITY") {
                    return Err(SanitizeError::Failed(
                        "the SVG document declares entities".into(),
                    ));
                }
                continue;
            }
            Event::PI(p) => {
                tally.add(
                    "removed",
                    "processing instruction",
                    String::from_utf8_lossy(p)
                        .chars()
                        .take(100)
                        .collect::<String>(),
                );
                continue;
            }
            Event::Start(e) | Event::Empty(e) => {
                let local = lower_local(e);
                if !seen_root && local != "svg" {
                    return Err(SanitizeError::Failed(format!(
                        "the document's root element is {local}, not svg"
                    )));
                }
                seen_root = true;
                let animates = matches!(
                    local.as_str(),
                    "set" | "animate" | "animatetransform" | "animatemotion"
                ) && attr(e, b"attributeName").is_some_and(|n| {
                    let n = n.to_ascii_lowercase();
                    let n = n.rsplit(':').next().unwrap_or(&n).to_string();
                    n == "href" || n.starts_with("on") || n == "style"
                });
                if REMOVED.contains(&local.as_str()) || animates {
                    tally.add("removed", &local, String::new());
                    if matches!(ev, Event::Start(_)) {
                        skip = 1;
                    }
                    continue;
                }
                let start = matches!(ev, Event::Start(_));
                let new = clean_attributes(e, &mut tally)?;
                if local == "style" && start {
                    let first = match new {
                        Some(n) => Event::Start(n),
                        None => ev.into_owned(),
                    };
                    style = Some((vec![first], String::new()));
                    continue;
                }
                if let Some(n) = new {
                    let out = if start {
                        Event::Start(n)
                    } else {
                        Event::Empty(n)
                    };
                    w.write_event(out).map_err(|e| xml_err(NAME, e))?;
                    continue;
                }
            }
            _ => {}
        }
        w.write_event(ev).map_err(|e| xml_err(NAME, e))?;
    }
    if !seen_root {
        return Err(SanitizeError::Failed(
            "the SVG document has no svg element".into(),
        ));
    }
    Ok(Sanitized {
        data: w.into_inner(),
        converted_to: "svg".into(),
        details: tally.into_details(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_styles() {
        assert!(safe_reference("#a") && safe_reference(" data:image/png;base64,AA"));
        assert!(!safe_reference("http://x/y.png") && !safe_reference("java\nscript:x"));
        assert!(!safe_reference("data:text/html,<script>"));
        assert!(active_css("fill: url( 'http://x/p' )") && active_css("@im\\port 'x'"));
        assert!(!active_css("fill: url(#grad); stroke: red"));
    }

    #[test]
    fn prefixed_script_and_handlers_go() {
        let svg = br##"<?xml version="1.0"?><?xml-stylesheet href="http://x/s.css"?><s:svg xmlns:s="http://www.w3.org/2000/svg" xmlns:l="http://www.w3.org/1999/xlink" onload="go()"><s:script>go()</s:script><s:a l:href="javascript:go()"><s:text>kept text</s:text></s:a><s:use l:href="#ok"/><s:set attributeName="l:href" to="javascript:x"/><s:style>rect{fill:url(http://x/)}</s:style></s:svg>"##;
        let s = sanitize(svg).unwrap();
        let out = String::from_utf8(s.data).unwrap();
        for gone in [
            "script",
            "onload",
            "javascript",
            "http://x",
            "xml-stylesheet",
            "s:set",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("kept text") && out.contains("#ok"), "{out}");
        assert!(sanitize(out.as_bytes()).unwrap().details.is_empty());
        assert!(sanitize(b"<!DOCTYPE svg [<!ENTITY a \"b\">]><svg>&a;</svg>").is_err());
        let hidden = sanitize(b"<svg><style>a{fill:url&#40;http://x/)}</style></svg>").unwrap();
        assert!(!String::from_utf8_lossy(&hidden.data).contains("http://x"));
        assert!(sanitize(b"<html><svg/></html>").is_err());
        assert!(is_svg(
            b"\xef\xbb\xbf <?xml version='1.0'?><!-- x --><svg/>"
        ));
        assert!(!is_svg(b"<html><svg/></html>"));
    }
}
