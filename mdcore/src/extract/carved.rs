//! Objects the carver found embedded in another object, yielded as its
//! children: each hit is cut from the carrier (from where it starts to where
//! its format says it ends, or to the end of the carrier) and named by its
//! offset, `[embedded@4096].zip`. The walker then detects and opens each one
//! like any other object; whatever follows an object whose length was not
//! known up front is searched again when that object's reader says where it
//! ended.

use super::{Cx, Entry, Extractor, Flow, Issue, Sink, read_child};
use crate::kind::Hit;

pub(crate) struct Carved<'h> {
    pub(crate) hits: &'h [Hit],
}

/// The name of an embedded object.
pub(crate) fn name(hit: &Hit) -> String {
    format!("[embedded@{}].{}", hit.span.start, hit.ext)
}

impl Extractor for Carved<'_> {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        for hit in self.hits {
            let end = hit.span.end.unwrap_or(data.len()).min(data.len());
            let Some(mut bytes) = data.get(hit.span.start..end) else {
                continue;
            };
            let produced = read_child(&mut bytes, cx.budget);
            let stop = produced.stop;
            if sink(Entry::Ready(produced.into_child(name(hit)))) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        Ok(())
    }
}
