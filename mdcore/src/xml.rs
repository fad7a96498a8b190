//! XML text shared by the readers and sanitizers that look inside XML
//! (xar's table of contents, Office Open XML fields).

use quick_xml::events::Event;

/// Text of a text or reference event (character references resolved).
pub(crate) fn text_of(ev: &Event<'_>) -> String {
    match ev {
        Event::Text(t) => t
            .xml10_content()
            .map(|c| c.into_owned())
            .unwrap_or_default(),
        Event::CData(t) => String::from_utf8_lossy(t).into_owned(),
        Event::GeneralRef(r) => match r.resolve_char_ref() {
            Ok(Some(c)) => c.to_string(),
            _ => match &**r {
                b"amp" => "&".into(),
                b"lt" => "<".into(),
                b"gt" => ">".into(),
                b"quot" => "\"".into(),
                b"apos" => "'".into(),
                // An unknown entity: kept visible, so a command hidden in
                // one is not read as harmless.
                other => format!("&{};", String::from_utf8_lossy(other)),
            },
        },
        _ => String::new(),
    }
}
