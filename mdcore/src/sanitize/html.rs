//! HTML: rewritten by lol_html (an HTML5 tokenizer, so elements and
//! attributes are what a browser sees). Removed: scripts and the elements
//! that run or embed other content (`script`, `iframe`, `frame`,
//! `frameset`, `object`, `embed`, `applet`, `portal`), `base`, `meta`
//! refresh and `link` elements (style sheets, imports, preloads fetch),
//! event-handler attributes, links whose target runs script
//! (`javascript:`, `vbscript:`, `data:` other than images), resource
//! attributes that fetch from outside the file (`src`, `srcset`, `data`,
//! `poster`, `background`, `action`, `formaction`, `ping`,
//! `xlink:href`), styles that fetch or run. Plain navigation links
//! (`http`, `https`, `mailto`, `#fragment`) stay: they do nothing until
//! clicked. A value whose character references can not be read with
//! certainty is removed.

use std::cell::RefCell;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str, text};

use super::svg::{active_css, safe_reference};
use super::{SanitizeError, Sanitized, Tally};

const REMOVED: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base", "link",
];

/// Attributes that make the browser fetch or run something.
const FETCHING: &[&str] = &[
    "src",
    "srcset",
    "data",
    "poster",
    "background",
    "action",
    "formaction",
    "ping",
    "xlink:href",
    "lowsrc",
    "dynsrc",
    "codebase",
    "manifest",
    "archive",
    "longdesc",
];

/// Whether `data` looks like an HTML document (a tag a browser would
/// sniff it by, near the start).
pub(super) fn is_html(data: &[u8]) -> bool {
    let head = data.get(..1024).unwrap_or(data);
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    [
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<meta",
        "<title",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// An attribute value with its character references resolved; `None`
/// when a reference other than the five XML ones is named (the browser's
/// table is long: such a value is not trusted).
fn resolve(v: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        rest = rest[end..].strip_prefix(';').unwrap_or(&rest[end..]);
        let c = if let Some(num) = name.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            n.and_then(char::from_u32)
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "" => Some('&'),
                _ => return None,
            }
        };
        out.push(c?);
    }
    out.push_str(rest);
    Some(out)
}

/// The scheme a browser would use for this URL: control characters and
/// whitespace dropped, lower case; `None` for a relative reference.
fn scheme(url: &str) -> Option<String> {
    let u: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let colon = u.find(':')?;
    let s = &u[..colon];
    (!s.is_empty() && !s.contains(['/', '?', '#'])).then(|| s.to_string())
}

/// Whether a link someone may click stays.
fn safe_link(url: &str) -> bool {
    match scheme(url) {
        None => true,
        Some(s) => matches!(s.as_str(), "http" | "https" | "mailto"),
    }
}

/// Decides one element: removed whole, or stripped of attributes.
fn element(el: &mut Element<'_, '_>, tally: &mut Tally) {
    let tag = el.tag_name().to_ascii_lowercase();
    let meta_refresh = tag == "meta"
        && el
            .get_attribute("http-equiv")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("refresh"));
    if REMOVED.contains(&tag.as_str()) || meta_refresh {
        tally.add("removed", &tag, String::new());
        el.remove();
        return;
    }
    let mut gone: Vec<(String, &'static str)> = Vec::new();
    for a in el.attributes() {
        let name = a.name().to_ascii_lowercase();
        let raw = a.value();
        let value = resolve(&raw);
        let why = if name.starts_with("on") {
            Some("event handler")
        } else if name == "style" {
            value.as_deref().is_none_or(active_css).then_some("style")
        } else if name == "href" {
            value
                .as_deref()
                .is_none_or(|v| !safe_link(v))
                .then_some("script URL")
        } else if FETCHING.contains(&name.as_str()) {
            value
                .as_deref()
                .is_none_or(|v| !safe_reference(v))
                .then_some("external reference")
        } else {
            None
        };
        if let Some(why) = why {
            gone.push((name, why));
        }
    }
    for (name, why) in gone {
        tally.add("removed", why, format!("{tag} {name}"));
        el.remove_attribute(&name);
    }
}

pub(super) fn sanitize(data: &[u8]) -> Result<Sanitized, SanitizeError> {
    let text_in = std::str::from_utf8(data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data))
        .map_err(|_| SanitizeError::Failed("the HTML document is not UTF-8".into()))?;
    let tally = RefCell::new(Tally::default());
    // The end of the previous chunk of a style sheet, so a keyword split
    // between chunks is still seen.
    let tail = RefCell::new(String::new());
    let out = rewrite_str(
        text_in,
        RewriteStrSettings {
            element_content_handlers: vec![
                element!("*", |el| {
                    element(el, &mut tally.borrow_mut());
                    Ok(())
                }),
                text!("style", |t| {
                    let mut tail = tail.borrow_mut();
                    let seen = format!("{}{}", tail, t.as_str());
                    if active_css(&seen) {
                        tally.borrow_mut().add(
                            "removed",
                            "style",
                            "a style sheet that fetches or runs",
                        );
                        t.remove();
                    }
                    let keep: String = seen.chars().rev().take(64).collect();
                    *tail = keep.chars().rev().collect();
                    if t.last_in_text_node() {
                        tail.clear();
                    }
                    Ok(())
                }),
            ],
            ..RewriteStrSettings::new()
        },
    )
    .map_err(|e| SanitizeError::Failed(format!("the HTML document can not be rewritten: {e}")))?;
    Ok(Sanitized {
        data: out.into_bytes(),
        converted_to: "html".into(),
        details: tally.into_inner().into_details(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_schemes_and_removal() {
        assert_eq!(resolve("&#106;ava&#x73;cript&colon;x"), None);
        assert_eq!(
            resolve("&#106;avascript:x").as_deref(),
            Some("javascript:x")
        );
        assert_eq!(
            scheme(" java\tscript:alert(1)").as_deref(),
            Some("javascript")
        );
        assert_eq!(scheme("/a:b"), None);
        assert!(safe_link("https://example.org/") && !safe_link("JaVaScRiPt:1"));
        let page = br#"<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0;url=http://x/"><link rel="stylesheet" href="http://x/s.css"><style>@im\port 'x';</style></head>
<body onload="go()"><p style="color:red">kept words</p><a href="&#106;avascript:go()">a</a><a href="https://example.org/">b</a>
<img src="http://x/t.png" alt="pic"><img src="data:image/png;base64,AA"><iframe src="http://x/"></iframe><svg><script>go()</script></svg><script>go()</script></body></html>"#;
        let s = sanitize(page).unwrap();
        let out = String::from_utf8(s.data).unwrap();
        for gone in [
            "refresh",
            "s.css",
            "import",
            "onload",
            "javascript",
            "http://x",
            "<iframe",
            "<script",
            "go()",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        for kept in [
            "kept words",
            "https://example.org/",
            "color:red",
            "data:image/png",
            "alt=\"pic\"",
        ] {
            assert!(out.contains(kept), "{kept} not in {out}");
        }
        assert!(sanitize(out.as_bytes()).unwrap().details.is_empty());
    }
}
