//! TNEF (`winmail.dat`, [MS-OXTNEF]): Outlook's wrapper for a message's
//! attachments and rich body. Each attachment's data (attAttachData) is a
//! child named by its title (attAttachTitle); the body (attBody) is a text
//! child. Attributes are read until the data ends; a cut attribute keeps
//! what it holds and makes the container 3.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::bytes::{le_u16, le_u32};

pub(crate) struct Tnef;

pub(crate) const SIGNATURE: u32 = 0x223e_9f78;
const ATT_RENDDATA: u32 = 0x0006_9002;
const ATT_TITLE: u32 = 0x0001_8010;
const ATT_DATA: u32 = 0x0006_800f;
const ATT_BODY: u32 = 0x0002_800c;

impl Extractor for Tnef {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if le_u32(data, 0) != Some(SIGNATURE) {
            return Err(Issue::corrupt("not a TNEF stream"));
        }
        // (title, data) of each attachment, in order.
        let mut attachments: Vec<(Option<String>, Option<&[u8]>)> = Vec::new();
        let mut body = None;
        let mut at = 6usize;
        let mut damaged = None;
        while at < data.len() {
            let (Some(id), Some(len)) = (le_u32(data, at + 1), le_u32(data, at + 5)) else {
                damaged = Some(format!("an attribute header at offset {at} is cut short"));
                break;
            };
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let start = at + 9;
            let value = data.get(start..start.saturating_add(len));
            let value = match value {
                Some(v) => v,
                None => {
                    damaged = Some(format!("the attribute at offset {at} runs past the end"));
                    data.get(start..).unwrap_or_default()
                }
            };
            match id {
                ATT_RENDDATA => attachments.push((None, None)),
                ATT_TITLE => {
                    let title: String = value
                        .iter()
                        .take_while(|b| **b != 0)
                        .map(|b| char::from(*b))
                        .collect();
                    match attachments.last_mut() {
                        Some(a) => a.0 = Some(title),
                        None => attachments.push((Some(title), None)),
                    }
                }
                ATT_DATA => match attachments.last_mut() {
                    Some(a) if a.1.is_none() => a.1 = Some(value),
                    _ => attachments.push((None, Some(value))),
                },
                ATT_BODY => body = Some(value),
                _ => {}
            }
            if damaged.is_some() {
                break;
            }
            // The value, then a 16-bit checksum.
            at = start.saturating_add(len).saturating_add(2);
            if le_u16(data, at.saturating_sub(2)).is_none() {
                break;
            }
        }
        cx.consumed(at.min(data.len()));
        if let Some(b) = body
            && hand_over(sink, cx, "body.txt".into(), b, None, None)? == Flow::Stop
        {
            return Ok(());
        }
        for (n, (title, bytes)) in attachments.into_iter().enumerate() {
            let Some(bytes) = bytes else { continue };
            let name = title
                .map(|t| sanitize_name(t.rsplit(['/', '\\']).next().unwrap_or(&t)))
                .filter(|t| t != "[unnamed]")
                .unwrap_or_else(|| format!("attachment-{}.bin", n + 1));
            let note = Some("a TNEF attachment".into());
            if hand_over(sink, cx, name, bytes, note, None)? == Flow::Stop {
                return Ok(());
            }
        }
        damaged.map_or(Ok(()), |d| Err(Issue::corrupt(d)))
    }
}
