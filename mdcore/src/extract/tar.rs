//! tar (ustar, GNU, pax, v7) through the `tar` crate, streaming: each regular
//! file is yielded as soon as it is read.

use super::{Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};

pub(crate) struct Tar;

impl Extractor for Tar {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut archive = tar::Archive::new(data);
        let entries = archive
            .entries()
            .map_err(|e| Issue::corrupt(format!("not a readable tar archive: {e}")))?;
        // Where the data of the last entry ends (512-byte aligned): an intact
        // archive has its end-of-archive zero block there.
        let mut end = 0u64;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| Issue::corrupt(format!("corrupt tar header: {e}")))?;
            end = entry
                .raw_file_position()
                .saturating_add(entry.size().div_ceil(512).saturating_mul(512));
            let kind = entry.header().entry_type();
            // Directories, links, devices and FIFOs carry no data to scan.
            if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()) {
                continue;
            }
            let name = sanitize_name(&String::from_utf8_lossy(&entry.path_bytes()));
            let produced = read_child(&mut entry, cx.budget);
            let stop = produced.stop;
            // On `Stop` the walker has already noted the limit on this container.
            if sink(Entry::Ready(produced.into_child(name))) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        // The tar crate takes a clean EOF at a header boundary as the end;
        // a file cut exactly there would silently lose its remaining members.
        let marker = usize::try_from(end)
            .ok()
            .and_then(|at| data.get(at..at.checked_add(512)?));
        match marker {
            Some(block) if block.iter().all(|b| *b == 0) => Ok(()),
            _ => Err(Issue::corrupt(
                "tar archive ends without its end-of-archive block (truncated)",
            )),
        }
    }
}
