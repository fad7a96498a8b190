//! 7-Zip through `sevenz-rust2`: LZMA, LZMA2, PPMd, BZip2, Deflate, Zstd,
//! BCJ filters, AES-256 with the supplied passwords (for content and for
//! encrypted headers), solid and non-solid archives.
//!
//! A block holding one file (non-solid archives) is a deferred child decoded
//! on the pool, so such archives decompress in parallel. A solid block is one
//! LZMA stream and decodes in order; its files are yielded one by one as the
//! stream reaches them, each scanned on the pool while decoding goes on.

use std::io::Cursor;
use std::sync::Arc;

use sevenz_rust2::{Archive, BlockDecoder, Error as SzError, Password};

use super::{Child, Cx, Emit, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u32, le_u64};
use crate::kind::Span;
use crate::verdict::ResultCode;

pub(crate) struct SevenZip;

/// Largest dictionary or model a header may make the decoder allocate. Real
/// archives use at most 64 MiB (`7z -mx9`).
const MEMORY_LIMIT_KB: usize = 256 << 10;

impl Extractor for SevenZip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if let Some(Span { end: Some(end), .. }) = carve(data, 0) {
            cx.consumed(end);
        }
        let archive = Arc::new(open(data, cx)?);
        // Files without data (empty files) belong to no block.
        for (i, f) in archive.files.iter().enumerate() {
            let in_block = archive
                .stream_map
                .file_block_index
                .get(i)
                .copied()
                .flatten()
                .is_some();
            if !f.is_directory() && !f.is_anti_item() && !in_block {
                let child = Child {
                    name: sanitize_name(f.name()),
                    data: Some(crate::Blob::from_vec(Vec::new())),
                    issue: None,
                    note: None,
                };
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
            }
        }
        // Names of the files with data in each block, in block order.
        let mut members: Vec<Vec<String>> = vec![Vec::new(); archive.blocks.len()];
        for (i, f) in archive.files.iter().enumerate() {
            if let Some(Some(b)) = archive.stream_map.file_block_index.get(i)
                && let Some(list) = members.get_mut(*b)
            {
                list.push(sanitize_name(f.name()));
            }
        }
        let members = Arc::new(members);
        // Blocks are independent streams: each decodes on its own pool
        // thread. Within a block (solid archives) files come in order.
        for block in 0..archive.blocks.len() {
            let count = members.get(block).map_or(0, Vec::len) as u64;
            let archive = archive.clone();
            let members = members.clone();
            let job = Box::new(move |emit: &mut super::Emit<'_>| {
                let _ = decode_block(data, &archive, &members, block, cx, emit);
            });
            if sink(Entry::Deferred {
                members: count,
                job,
            }) == Flow::Stop
            {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Reads the archive's headers, trying the supplied passwords when they are
/// encrypted.
fn open(data: &[u8], cx: &Cx<'_>) -> Result<Archive, Issue> {
    let read = |pw: &Password| {
        Archive::read_with_memory_limit(&mut Cursor::new(data), pw, MEMORY_LIMIT_KB)
    };
    match read(&Password::empty()) {
        Ok(a) => Ok(a),
        Err(SzError::PasswordRequired) | Err(SzError::MaybeBadPassword(_)) => {
            for pw in cx.passwords {
                if let Ok(a) = read(&Password::from(pw.as_str())) {
                    return Ok(a);
                }
            }
            Err(Issue::new(
                ResultCode::EncryptedArchive,
                format!(
                    "7z headers are encrypted and none of the {} supplied passwords opened them",
                    cx.passwords.len()
                ),
            ))
        }
        Err(e) if sz_memory_refusal(&e) => Err(super::memory_limit_issue(&e.to_string())),
        Err(e @ SzError::UnsupportedCompressionMethod(_)) | Err(e @ SzError::Unsupported(_)) => {
            Err(Issue::new(
                ResultCode::UnsupportedFileType,
                format!("unsupported 7z archive: {e}"),
            ))
        }
        Err(e) => Err(Issue::corrupt(format!("not a readable 7z archive: {e}"))),
    }
}

/// Carving, and where an archive ends: the signature header's CRC, and the
/// next header (offset and size from the signature header) inside the object
/// with its own CRC right.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let start_header = d.get(at + 12..at + 32)?;
    if crc32fast::hash(start_header) != le_u32(d, at + 8)? {
        return None;
    }
    // The start header's CRC is evidence enough that a 7z starts here; a
    // next header that is missing or damaged makes it a truncated archive
    // (its reader then reports the damage), not no archive.
    let end = (|| {
        let next_offset = usize::try_from(le_u64(d, at + 12)?).ok()?;
        let next_size = usize::try_from(le_u64(d, at + 20)?).ok()?;
        let next_at = at.checked_add(32)?.checked_add(next_offset)?;
        let end = next_at.checked_add(next_size)?;
        let next = d.get(next_at..end)?;
        (next_size > 0 && crc32fast::hash(next) == le_u32(d, at + 28)?).then_some(end)
    })();
    Some(Span { start: at, end })
}

/// Whether sevenz-rust2 refused to allocate what a header asked for.
fn sz_memory_refusal(e: &SzError) -> bool {
    match e {
        SzError::MaxMemLimited { .. } => true,
        SzError::Io(io, _) => super::is_memory_refusal(io),
        other => other
            .to_string()
            .to_ascii_lowercase()
            .contains("allocation too large"),
    }
}

fn block_encrypted(archive: &Archive, block: usize) -> bool {
    let first = archive
        .stream_map
        .block_first_file_index
        .get(block)
        .copied()
        .unwrap_or(0);
    archive.is_file_encrypted(first)
}

/// Decodes one block, calling `emit` with each file once its CRC checked
/// out (a file is held back until the decoder moves past it, so a wrong
/// password that happens to produce bytes never yields garbage children).
fn decode_block(
    data: &[u8],
    archive: &Archive,
    members: &[Vec<String>],
    block: usize,
    cx: &Cx<'_>,
    emit: &mut Emit<'_>,
) -> Result<(), Issue> {
    let encrypted = block_encrypted(archive, block);
    let candidates: Vec<Password> = if encrypted {
        cx.passwords
            .iter()
            .map(|p| Password::from(p.as_str()))
            .collect()
    } else {
        vec![Password::empty()]
    };
    let mut last_error = None;
    for pw in &candidates {
        let mut emitted = 0usize;
        let mut started = 0usize;
        let mut pending: Option<Child> = None;
        let mut stop = false;
        let mut cursor = Cursor::new(data);
        let decoder = BlockDecoder::new_with_memory_limit(
            1,
            MEMORY_LIMIT_KB,
            block,
            archive,
            pw,
            &mut cursor,
        );
        let res = decoder.for_each_entries(&mut |entry, reader| {
            if let Some(p) = pending.take() {
                emitted += 1;
                if emit(p) == Flow::Stop {
                    stop = true;
                    return Ok(false);
                }
            }
            if entry.is_directory() {
                return Ok(true);
            }
            started += 1;
            let produced = read_child(reader, cx.budget);
            let tree_stop = produced.stop.is_some();
            pending = Some(produced.into_child(sanitize_name(entry.name())));
            Ok(!tree_stop)
        });
        match res {
            Ok(_) => {
                if let Some(p) = pending.take()
                    && !stop
                {
                    emit(p);
                }
                return Ok(());
            }
            Err(e) if encrypted && emitted == 0 => {
                // Most likely the wrong password: try the next one.
                last_error = Some(e);
            }
            Err(e) => {
                let issue = if sz_memory_refusal(&e) {
                    super::memory_limit_issue(&format!("7z block {block}: {e}"))
                } else if matches!(
                    e,
                    SzError::UnsupportedCompressionMethod(_) | SzError::Unsupported(_)
                ) {
                    Issue::new(
                        ResultCode::UnsupportedFileType,
                        format!("7z block {block} uses a method mdscan can not decode: {e}"),
                    )
                } else {
                    Issue::corrupt(format!("7z block {block} is damaged: {e}"))
                };
                if let Some(mut p) = pending.take() {
                    p.issue = Some(p.issue.unwrap_or_else(|| issue.clone()));
                    emit(p);
                }
                // Members the decoder never reached are unexamined too.
                for name in members.get(block).into_iter().flatten().skip(started) {
                    if emit(Child::failed(name.clone(), issue.clone())) == Flow::Stop {
                        break;
                    }
                }
                return Err(issue);
            }
        }
    }
    // No password opened this block: every file in it is unexamined.
    let note = match (candidates.len(), last_error) {
        (0, _) => "encrypted 7z content and no password was supplied".to_string(),
        (n, Some(e)) => {
            format!("encrypted 7z content; none of the {n} supplied passwords opened it ({e})")
        }
        (n, None) => format!("encrypted 7z content; none of the {n} supplied passwords opened it"),
    };
    for name in members.get(block).into_iter().flatten() {
        let issue = Issue::new(ResultCode::EncryptedArchive, note.clone());
        if emit(Child::failed(name.clone(), issue)) == Flow::Stop {
            break;
        }
    }
    Ok(())
}
