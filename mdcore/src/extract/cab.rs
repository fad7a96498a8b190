//! Microsoft Cabinet ([MS-CAB]): our own reader of the header, folder and
//! file tables; data blocks decoded with flate2 (MSZIP), `lzxd` (LZX) and
//! our Quantum decoder ([`super::quantum`]).
//!
//! The `cab` crate re-decodes a folder from its first block for every file
//! it opens, which is quadratic on the folders of thousands of files that
//! installers ship; here each folder is decoded once, front to back, and its
//! files are cut from the stream as it passes them. Folders are independent
//! and decode in parallel on the pool. Files continued from another
//! cabinet are reported as unsupported (23).

use std::io::{self, Read};

use super::{Child, Cx, Emit, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::kind::Span;
use crate::verdict::ResultCode;

pub(crate) struct Cab;

/// [MS-CAB] 2.3.1 flags.
const PREV_CABINET: u16 = 0x0001;
const NEXT_CABINET: u16 = 0x0002;
const RESERVE_PRESENT: u16 = 0x0004;
/// A data block never expands beyond 32 KiB ([MS-CAB] 2.6), LZX's 32 KiB frame.
const MAX_BLOCK_OUT: usize = 32 << 10;

struct Folder {
    data_offset: usize,
    blocks: u16,
    method: u16,
}

struct File {
    name: String,
    size: u64,
    offset: u64,
    folder: u16,
}

struct Layout {
    folders: Vec<Folder>,
    files: Vec<File>,
    data_reserve: usize,
}

impl Extractor for Cab {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if let Some(size) = le_u32(data, 8).and_then(|s| usize::try_from(s).ok()) {
            cx.consumed(size.min(data.len()));
        }
        let layout = parse(data)?;
        // [MS-CAB] 2.3: folders are independent streams; two that share
        // bytes are built to make a small cabinet decode for ever.
        let mut starts: Vec<(usize, usize)> = layout
            .folders
            .iter()
            .map(|f| (f.data_offset, usize::from(f.blocks)))
            .collect();
        starts.sort_unstable();
        if starts
            .windows(2)
            .any(|w| matches!(w, [(a, n), (b, _)] if *n > 0 && a == b))
        {
            return Err(Issue::corrupt(
                "two cabinet folders start at the same data block",
            ));
        }
        let mut by_folder: Vec<Vec<File>> = (0..layout.folders.len()).map(|_| Vec::new()).collect();
        for f in layout.files {
            match by_folder.get_mut(usize::from(f.folder)) {
                Some(list) => list.push(f),
                None => {
                    let issue = if f.folder >= 0xfffd {
                        Issue::new(
                            ResultCode::UnsupportedFileType,
                            "file continues in another cabinet of a set",
                        )
                    } else {
                        Issue::corrupt(format!("file refers to missing folder {}", f.folder))
                    };
                    if sink(Entry::Ready(Child::failed(f.name, issue))) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
        }
        let reserve = layout.data_reserve;
        for (folder, mut files) in layout.folders.into_iter().zip(by_folder) {
            if files.is_empty() {
                continue;
            }
            files.sort_by_key(|f| f.offset);
            let members = files.len() as u64;
            let job = Box::new(move |emit: &mut Emit<'_>| {
                decode_folder(data, &folder, reserve, files, cx, emit);
            });
            if sink(Entry::Deferred { members, job }) == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn parse(d: &[u8]) -> Result<Layout, Issue> {
    let bad = |what: &str| Issue::corrupt(format!("corrupt cabinet: {what}"));
    let files_at = le_u32(d, 16).ok_or_else(|| bad("truncated header"))?;
    let n_folders = le_u16(d, 26).ok_or_else(|| bad("truncated header"))?;
    let n_files = le_u16(d, 28).ok_or_else(|| bad("truncated header"))?;
    let flags = le_u16(d, 30).ok_or_else(|| bad("truncated header"))?;
    let mut pos = 36usize;
    let (mut folder_reserve, mut data_reserve) = (0usize, 0usize);
    if flags & RESERVE_PRESENT != 0 {
        let header_reserve = le_u16(d, 36).ok_or_else(|| bad("truncated header"))?;
        folder_reserve = usize::from(*d.get(38).ok_or_else(|| bad("truncated header"))?);
        data_reserve = usize::from(*d.get(39).ok_or_else(|| bad("truncated header"))?);
        pos = 40 + usize::from(header_reserve);
    }
    for flag in [PREV_CABINET, NEXT_CABINET] {
        if flags & flag != 0 {
            // Two NUL-terminated strings: cabinet name and disk name.
            for _ in 0..2 {
                let rest = d.get(pos..).ok_or_else(|| bad("truncated header"))?;
                let len = memchr::memchr(0, rest).ok_or_else(|| bad("unterminated name"))?;
                pos += len + 1;
            }
        }
    }
    let mut folders = Vec::new();
    for _ in 0..n_folders {
        let data_offset = le_u32(d, pos).ok_or_else(|| bad("truncated folder table"))?;
        let blocks = le_u16(d, pos + 4).ok_or_else(|| bad("truncated folder table"))?;
        let method = le_u16(d, pos + 6).ok_or_else(|| bad("truncated folder table"))?;
        folders.push(Folder {
            data_offset: usize::try_from(data_offset).unwrap_or(usize::MAX),
            blocks,
            method,
        });
        pos += 8 + folder_reserve;
    }
    let mut files = Vec::new();
    let mut pos = usize::try_from(files_at).unwrap_or(usize::MAX);
    for _ in 0..n_files {
        let size = le_u32(d, pos).ok_or_else(|| bad("truncated file table"))?;
        let offset = le_u32(d, pos + 4).ok_or_else(|| bad("truncated file table"))?;
        let folder = le_u16(d, pos + 8).ok_or_else(|| bad("truncated file table"))?;
        let rest = d
            .get(pos + 16..)
            .ok_or_else(|| bad("truncated file table"))?;
        let len = memchr::memchr(0, rest).ok_or_else(|| bad("unterminated file name"))?;
        let raw = rest.get(..len).unwrap_or_default();
        // Names without the UTF flag (attribute 0x80) are in the creator's
        // code page; lossy UTF-8 keeps ASCII intact, enough for a label.
        files.push(File {
            name: sanitize_name(&String::from_utf8_lossy(raw)),
            size: u64::from(size),
            offset: u64::from(offset),
            folder,
        });
        pos += 16 + len + 1;
    }
    Ok(Layout {
        folders,
        files,
        data_reserve,
    })
}

enum Decoder {
    Stored,
    MsZip(Box<flate2::Decompress>, Vec<u8>),
    Lzx(Box<lzxd::Lzxd>, E8),
    Quantum(Box<super::quantum::Quantum>),
}

/// E8 call translation of an LZX folder, done here rather than by `lzxd`:
/// it turns an operand of 0 into the translation size instead of minus the
/// position ([MS-PATCH] 3.1.6.2.1, what libmspack and 7-Zip do), so the
/// first chunk reaches `lzxd` with the header's translation bit cleared.
#[derive(Default)]
struct E8 {
    /// The stream's header has been seen.
    seen: bool,
    /// The translation size, when translation is on.
    size: Option<i32>,
    /// Output position of the folder's next byte.
    at: u64,
}

impl E8 {
    /// The first chunk as `lzxd` gets it: the header's translation bit
    /// and the 32-bit size behind it (bit 15 of the first 16-bit word, the
    /// rest of it, the second word and bit 15 of the third) taken out;
    /// since that is exactly two words' worth, what follows starts at bit
    /// 14 of the third word, which becomes the first.
    fn strip_header<'c>(&mut self, chunk: &'c [u8]) -> std::borrow::Cow<'c, [u8]> {
        if std::mem::replace(&mut self.seen, true) {
            return std::borrow::Cow::Borrowed(chunk);
        }
        let word = |i: usize| le_u16(chunk, 2 * i).map(u32::from);
        match (word(0), word(1), word(2)) {
            (Some(w0), Some(w1), Some(w2)) if w0 & 0x8000 != 0 => {
                let size = ((w0 & 0x7fff) << 17) | (w1 << 1) | (w2 >> 15);
                self.size = Some(i32::from_ne_bytes(size.to_ne_bytes()));
                let mut out = Vec::with_capacity(chunk.len() - 4);
                out.extend_from_slice(&((w2 & 0x7fff) as u16).to_le_bytes());
                out.extend_from_slice(chunk.get(6..).unwrap_or_default());
                std::borrow::Cow::Owned(out)
            }
            _ => std::borrow::Cow::Borrowed(chunk),
        }
    }

    /// Translates the E8 operands of one decoded frame back: an operand in
    /// [-position, size) becomes relative (from 0 up: minus the position;
    /// below 0: plus the size); operands in the last 10 bytes of a frame,
    /// and past the first GiB of output, stay as they are.
    fn translate(&mut self, frame: &mut [u8]) {
        let start = self.at;
        self.at += frame.len() as u64;
        let Some(size) = self.size else {
            return;
        };
        if start >= 0x4000_0000 || frame.len() <= 10 {
            return;
        }
        let end = frame.len() - 10;
        let mut i = 0usize;
        while i < end {
            if frame.get(i) != Some(&0xe8) {
                i += 1;
                continue;
            }
            let pos = i32::try_from(start + i as u64).unwrap_or(i32::MAX);
            if let Some(operand) = frame.get_mut(i + 1..i + 5)
                && let Ok(bytes) = <[u8; 4]>::try_from(&*operand)
            {
                let abs = i32::from_le_bytes(bytes);
                if abs >= pos.wrapping_neg() && abs < size {
                    // A hostile header may declare any size: wrap as C does.
                    let rel = if abs >= 0 {
                        abs.wrapping_sub(pos)
                    } else {
                        abs.wrapping_add(size)
                    };
                    operand.copy_from_slice(&rel.to_le_bytes());
                }
            }
            i += 5;
        }
    }
}

/// The uncompressed stream of one folder, block by block.
struct FolderStream<'d> {
    data: &'d [u8],
    pos: usize,
    blocks_left: u16,
    reserve: usize,
    decoder: Decoder,
    out: Vec<u8>,
    out_pos: usize,
}

impl FolderStream<'_> {
    fn next_block(&mut self) -> io::Result<bool> {
        if self.blocks_left == 0 {
            return Ok(false);
        }
        self.blocks_left -= 1;
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let d = self.data;
        let packed =
            usize::from(le_u16(d, self.pos + 4).ok_or_else(|| bad("truncated data block"))?);
        let unpacked =
            usize::from(le_u16(d, self.pos + 6).ok_or_else(|| bad("truncated data block"))?);
        let start = self.pos + 8 + self.reserve;
        let chunk = d
            .get(start..start + packed)
            .ok_or_else(|| bad("truncated data block"))?;
        self.pos = start + packed;
        if unpacked > MAX_BLOCK_OUT {
            return Err(bad("data block larger than 32 KiB"));
        }
        self.out_pos = 0;
        match &mut self.decoder {
            Decoder::Stored => {
                self.out.clear();
                self.out.extend_from_slice(chunk);
            }
            Decoder::MsZip(inflate, window) => {
                // [MS-MCI] 2.1: each block is "CK" + a deflate stream whose
                // history is the previous block's output. Prime the window
                // with a stored block holding that history, then inflate.
                let body = chunk
                    .strip_prefix(b"CK")
                    .ok_or_else(|| bad("missing MSZIP signature"))?;
                inflate.reset(false);
                if !window.is_empty() {
                    let len = u16::try_from(window.len()).unwrap_or(u16::MAX);
                    let mut primer = vec![0u8];
                    primer.extend_from_slice(&len.to_le_bytes());
                    primer.extend_from_slice(&(!len).to_le_bytes());
                    primer.extend_from_slice(window.get(..usize::from(len)).unwrap_or_default());
                    let mut sink = Vec::with_capacity(window.len());
                    inflate
                        .decompress_vec(&primer, &mut sink, flate2::FlushDecompress::Sync)
                        .map_err(|e| bad(&format!("MSZIP: {e}")))?;
                }
                self.out.clear();
                self.out.reserve(MAX_BLOCK_OUT);
                inflate
                    .decompress_vec(body, &mut self.out, flate2::FlushDecompress::Finish)
                    .map_err(|e| bad(&format!("MSZIP: {e}")))?;
                window.clear();
                window.extend_from_slice(&self.out);
            }
            Decoder::Lzx(lzx, e8) => {
                let chunk = e8.strip_header(chunk);
                let got = lzx
                    .decompress_next(&chunk, unpacked)
                    .map_err(|e| bad(&format!("LZX: {e}")))?;
                self.out.clear();
                self.out.extend_from_slice(got);
                e8.translate(&mut self.out);
            }
            Decoder::Quantum(q) => {
                self.out = q
                    .block(chunk, unpacked)
                    .map_err(|e| bad(&format!("Quantum: {e}")))?;
            }
        }
        if self.out.len() != unpacked {
            return Err(bad("data block decoded to the wrong size"));
        }
        Ok(true)
    }

    /// Skips `n` bytes of the stream. Skipped bytes are decoded too, so
    /// they are charged to the budget like any output, and the limits are
    /// checked between blocks: a file table that points far into a folder
    /// must not make the decoder run unchecked.
    fn skip(&mut self, mut n: u64, budget: &crate::limits::Budget) -> io::Result<()> {
        while n > 0 {
            let avail = self.out.len().saturating_sub(self.out_pos);
            if avail == 0 {
                if let Err(stop) = budget.check() {
                    return Err(io::Error::other(SkipStopped(stop)));
                }
                if !self.next_block()? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file lies beyond the end of its folder",
                    ));
                }
                continue;
            }
            let step = usize::try_from(n).map_or(avail, |n| n.min(avail));
            self.out_pos += step;
            n -= step as u64;
            if let Err(stop) = budget.charge(step as u64) {
                return Err(io::Error::other(SkipStopped(stop)));
            }
        }
        Ok(())
    }
}

impl Read for FolderStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let avail = self.out.get(self.out_pos..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.out_pos += n;
        Ok(n)
    }
}

/// A tree-wide limit stopped a skip inside a folder.
#[derive(Debug)]
struct SkipStopped(crate::limits::Stop);

impl std::fmt::Display for SkipStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Issue::stopped(self.0).note)
    }
}

impl std::error::Error for SkipStopped {}

/// Carving: a cabinet header (version 1.3, sane sizes, at least one folder
/// and one file); it ends where its declared size says, when that fits.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    if !header_ok(d, at, usize::MAX) {
        return None;
    }
    let folders = le_u16(d, at + 26)?;
    let files = le_u16(d, at + 28)?;
    let size = usize::try_from(le_u32(d, at + 8)?).ok()?;
    // A cabinet cut short is still a cabinet (its reader reports the damage).
    let end = at.checked_add(size).filter(|e| *e <= d.len());
    (folders > 0 && files > 0).then_some(Span { start: at, end })
}

fn decode_folder(
    data: &[u8],
    folder: &Folder,
    reserve: usize,
    files: Vec<File>,
    cx: &Cx<'_>,
    emit: &mut Emit<'_>,
) {
    let fail_rest = |files: &mut dyn Iterator<Item = File>, issue: Issue, emit: &mut Emit<'_>| {
        for f in files {
            if emit(Child::failed(f.name, issue.clone())) == Flow::Stop {
                return;
            }
        }
    };
    let decoder = match folder.method & 0x000f {
        0 => Decoder::Stored,
        1 => Decoder::MsZip(Box::new(flate2::Decompress::new(false)), Vec::new()),
        3 => {
            let window = match (folder.method >> 8) & 0x1f {
                15 => lzxd::WindowSize::KB32,
                16 => lzxd::WindowSize::KB64,
                17 => lzxd::WindowSize::KB128,
                18 => lzxd::WindowSize::KB256,
                19 => lzxd::WindowSize::KB512,
                20 => lzxd::WindowSize::MB1,
                21 => lzxd::WindowSize::MB2,
                bits => {
                    let issue = Issue::corrupt(format!("LZX window of 2^{bits} bytes is invalid"));
                    return fail_rest(&mut files.into_iter(), issue, emit);
                }
            };
            Decoder::Lzx(Box::new(lzxd::Lzxd::new(window)), E8::default())
        }
        2 => match super::quantum::Quantum::new(u32::from((folder.method >> 8) & 0x1f)) {
            Ok(q) => Decoder::Quantum(Box::new(q)),
            Err(e) => return fail_rest(&mut files.into_iter(), Issue::corrupt(e), emit),
        },
        m => {
            let issue = Issue::corrupt(format!("unknown cabinet compression type {m}"));
            return fail_rest(&mut files.into_iter(), issue, emit);
        }
    };
    let mut stream = FolderStream {
        data,
        pos: folder.data_offset,
        blocks_left: folder.blocks,
        reserve,
        decoder,
        out: Vec::new(),
        out_pos: 0,
    };
    let mut at = 0u64;
    let mut files = files.into_iter();
    while let Some(f) = files.next() {
        if f.offset < at {
            // Files sharing bytes with the previous one: legitimate cabinets
            // never do this, and re-decoding would be quadratic.
            let issue = Issue::corrupt("file overlaps the previous file of its folder");
            if emit(Child::failed(f.name, issue)) == Flow::Stop {
                return;
            }
            continue;
        }
        if let Err(e) = stream.skip(f.offset - at, cx.budget) {
            let issue = match e.get_ref().and_then(|i| i.downcast_ref::<SkipStopped>()) {
                Some(SkipStopped(stop)) => Issue::stopped(*stop),
                None => Issue::corrupt(format!("cabinet folder damaged: {e}")),
            };
            let mut rest = std::iter::once(f).chain(files);
            return fail_rest(&mut rest, issue, emit);
        }
        let produced = read_child(&mut (&mut stream).take(f.size), cx.budget);
        let got = produced.blob.len() as u64;
        let stop = produced.stop.is_some();
        let cut = produced
            .issue
            .as_ref()
            .is_some_and(|i| i.code == ResultCode::ExceededArchiveSize);
        let damaged = !cut && (produced.issue.is_some() || got < f.size);
        let mut child = produced.into_child(f.name);
        if damaged && child.issue.is_none() {
            child.issue = Some(Issue::corrupt(format!(
                "truncated: {got} of {} bytes in the folder",
                f.size
            )));
        }
        if emit(child) == Flow::Stop || stop {
            return;
        }
        if damaged {
            let issue = Issue::corrupt("cabinet folder not readable past a damaged file");
            return fail_rest(&mut files, issue, emit);
        }
        at = f.offset + got;
    }
}

/// A cabinet header at `at` that declares version 1.3, a size of at least
/// a header and not more than `room`, and a file table inside it.
pub(crate) fn header_ok(d: &[u8], at: usize, room: usize) -> bool {
    let (Some(size), Some(files_at), Some(minor), Some(major)) = (
        le_u32(d, at + 8),
        le_u32(d, at + 16),
        d.get(at + 24),
        d.get(at + 25),
    ) else {
        return false;
    };
    (*major, *minor) == (1, 3) && size >= 36 && files_at < size && (size as usize) <= room
}
