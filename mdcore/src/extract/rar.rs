//! RAR 1.5 to RAR 5 through RARLAB's own UnRAR library (the `unrar` crate,
//! the same source ClamAV's libclamunrar builds): every compression method,
//! solid archives, archive and file encryption with the supplied passwords,
//! self-extracting archives (carved out of their stub first).
//!
//! UnRAR reads archives from a file, so the bytes are written to a private
//! temporary directory; nothing from the archive is ever written under a
//! name it chose. Entries are decoded in order (a solid archive is one
//! stream). UnRAR writes at most the size an entry declares, so an entry is
//! decoded only when its declared size fits the object limit and what is
//! left of the tree's byte budget; an entry whose size is not declared is
//! not decoded (13). After a damaged entry the archive is opened again and
//! read on from the next one, a bounded number of times.
//!
//! An archive split in volumes is given one volume at a time: a file that
//! continues in another volume is not whole and blocks (3).

use std::path::{Path, PathBuf};

use unrar::error::{Code, UnrarError};
use unrar::{Archive, CursorBeforeHeader, OpenArchive, Process};

use super::{
    Child, Cx, Entry, Extractor, Flow, Issue, Sink, hand_over, hand_over_from, sanitize_name,
};
use crate::verdict::ResultCode;

pub(crate) struct Rar;

/// Damaged entries after which the rest of an archive is given up.
const MAX_REOPENS: usize = 16;
/// Entries read from one archive.
const MAX_ENTRIES: usize = 1 << 20;

impl Extractor for Rar {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        // UnRAR would search for a signature further on (self-extracting
        // archives); the detector and the carver hand over archives that
        // start with one, and the block walk below (which bounds UnRAR's
        // dictionary) reads from the start.
        if !blocks::signed(data) {
            return Err(Issue::corrupt(
                "the RAR archive does not start with a RAR signature",
            ));
        }
        let layout = blocks::layout(data);
        match layout.end {
            Some(end) => cx.consumed(end),
            None => cx.note(
                "where the RAR archive ends is not known (encrypted or damaged headers): \
                 bytes after it are not searched apart from it",
            ),
        }
        let dir = tempfile::tempdir()
            .map_err(|e| Issue::corrupt(format!("can not stage the RAR archive: {e}")))?;
        let path = dir.path().join("archive.rar");
        std::fs::write(&path, data)
            .map_err(|e| Issue::corrupt(format!("can not stage the RAR archive: {e}")))?;
        if layout.service_dict > MAX_DICTIONARY {
            return Err(dictionary_issue(layout.service_dict));
        }
        Reading::new(&path, dir.path(), cx, layout, data.len()).run(sink)
    }
}

/// What became of one entry (by its position in the archive).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not decoded yet.
    Open,
    /// Handed to the walker (decoded, or failed for good).
    Done,
    /// Encrypted and the current password does not open it.
    Locked,
}

struct Reading<'p, 'a> {
    path: &'p Path,
    scratch: &'p Path,
    cx: &'a Cx<'a>,
    states: Vec<State>,
    names: Vec<String>,
    /// Which password the current pass uses: 0 none, k the k-th supplied.
    password: usize,
    /// Passes begun again after a damaged entry.
    damaged: usize,
    /// Passes begun again after an entry no password opens.
    locked: usize,
    /// Old archives (RAR 2) may end without an end block where UnRAR then
    /// reports damage: not damage when the blocks end the data exactly.
    unmarked_end: Option<usize>,
    layout: blocks::Layout,
}

/// How a pass over the archive ended.
enum Pass {
    /// Every header was read.
    End,
    /// An entry was damaged and UnRAR closed the archive: open it again.
    Damaged,
    /// An encrypted entry the current password does not open.
    Locked { solid: bool },
    /// The walker or a limit said stop, or the archive is unreadable.
    Stop(Result<(), Issue>),
    /// The headers need a password the current pass does not have.
    HeadersLocked,
}

impl<'p, 'a> Reading<'p, 'a> {
    fn new(
        path: &'p Path,
        scratch: &'p Path,
        cx: &'a Cx<'a>,
        layout: blocks::Layout,
        len: usize,
    ) -> Self {
        let unmarked_end = (!layout.marked && layout.end == Some(len)).then_some(layout.files);
        Reading {
            path,
            scratch,
            cx,
            states: Vec::new(),
            names: Vec::new(),
            password: 0,
            damaged: 0,
            locked: 0,
            unmarked_end,
            layout,
        }
    }

    fn run(mut self, sink: &mut Sink<'_, '_>) -> Result<(), Issue> {
        let last = self.cx.passwords.len();
        loop {
            match self.pass(sink) {
                Pass::Stop(r) => return r,
                Pass::Damaged => {
                    self.damaged += 1;
                    if self.damaged > MAX_REOPENS {
                        let why =
                            format!("the archive was given up after {MAX_REOPENS} damaged entries");
                        self.report_rest(sink, &why)?;
                        return Err(Issue::corrupt(format!("RAR archive: {why}")));
                    }
                }
                Pass::HeadersLocked => {
                    if self.password >= last {
                        return Err(Issue::new(
                            ResultCode::EncryptedArchive,
                            headers_locked_note(last),
                        ));
                    }
                    self.password += 1;
                }
                Pass::Locked { solid } => {
                    if self.password < last {
                        // Try the next password on every entry still locked.
                        self.password += 1;
                        for s in &mut self.states {
                            if *s == State::Locked {
                                *s = State::Open;
                            }
                        }
                    } else if solid {
                        // A solid archive is one stream: nothing after an
                        // entry that does not decode can be decoded.
                        return self.report_rest(
                            sink,
                            "it follows, in a solid archive, an encrypted entry no password opens",
                        );
                    } else {
                        self.locked += 1;
                        if self.locked > MAX_REOPENS {
                            return self.report_rest(
                                sink,
                                "reading stopped after many encrypted entries no password opens",
                            );
                        }
                    }
                }
                Pass::End if self.states.is_empty() => {
                    return Err(Issue::corrupt("RAR archive with no readable entry"));
                }
                Pass::End if self.states.iter().all(|s| *s == State::Done) => return Ok(()),
                Pass::End => return self.report_rest(sink, "the archive ended before it"),
            }
        }
    }

    /// Lists the archive and reports every entry not handed over yet:
    /// encrypted ones as 12, others as 3 with `why`.
    fn report_rest(&self, sink: &mut Sink<'_, '_>, why: &str) -> Result<(), Issue> {
        let archive = self
            .archive()
            .open_for_listing()
            .map_err(|e| Issue::corrupt(format!("RAR archive not listed: {e}")))?;
        let n = self.cx.passwords.len();
        for (i, header) in archive.enumerate() {
            let header = header.map_err(|e| Issue::corrupt(format!("RAR headers damaged: {e}")))?;
            if i >= MAX_ENTRIES {
                break;
            }
            if self.states.get(i) == Some(&State::Done) || header.is_directory() {
                continue;
            }
            let name = self
                .names
                .get(i)
                .cloned()
                .unwrap_or_else(|| sanitize_name(&header.filename.to_string_lossy()));
            let issue = if header.is_encrypted() {
                Issue::new(
                    ResultCode::EncryptedArchive,
                    match n {
                        0 => "encrypted RAR entry and no password was supplied".to_string(),
                        n => format!(
                            "encrypted RAR entry; none of the {n} supplied passwords opened it"
                        ),
                    },
                )
            } else {
                Issue::corrupt(format!("RAR entry not decoded: {why}"))
            };
            if sink(Entry::Ready(Child::failed(name, issue))) == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The archive with the current pass's password, if it has one.
    fn archive(&self) -> Archive<'_> {
        match self.password.checked_sub(1) {
            None => Archive::new(self.path),
            Some(i) => {
                let pw = self.cx.passwords.get(i).map_or("", String::as_str);
                Archive::with_password(self.path, pw)
            }
        }
    }

    fn open(&self) -> Result<OpenArchive<Process, CursorBeforeHeader>, UnrarError> {
        self.archive().open_for_processing()
    }

    fn pass(&mut self, sink: &mut Sink<'_, '_>) -> Pass {
        let mut archive = match self.open() {
            Ok(a) => a,
            Err(e) if needs_password(&e) => return Pass::HeadersLocked,
            Err(e) => {
                return Pass::Stop(Err(Issue::corrupt(format!("RAR archive not read: {e}"))));
            }
        };
        let solid = archive.is_solid();
        let mut index = 0usize;
        loop {
            if let Err(stop) = self.cx.budget.check() {
                return Pass::Stop(Err(Issue::stopped(stop)));
            }
            let entry = match archive.read_header() {
                Ok(Some(e)) => e,
                Ok(None) => return Pass::End,
                Err(e) if needs_password(&e) && index == 0 => return Pass::HeadersLocked,
                Err(_) if index > 0 && self.unmarked_end == Some(index) => return Pass::End,
                Err(e) => {
                    return Pass::Stop(Err(Issue::corrupt(format!(
                        "RAR headers damaged after {index} entries: {e}"
                    ))));
                }
            };
            if index >= MAX_ENTRIES {
                return Pass::Stop(Err(Issue::new(
                    ResultCode::ExceededArchiveFileNumber,
                    format!("RAR archive has more than {MAX_ENTRIES} entries"),
                )));
            }
            let header = entry.entry();
            if index == self.states.len() {
                self.states.push(State::Open);
                self.names
                    .push(sanitize_name(&header.filename.to_string_lossy()));
            }
            let state = self.states.get(index).copied().unwrap_or(State::Done);
            let name = self.names.get(index).cloned().unwrap_or_default();
            let this = index;
            index += 1;
            if header.is_directory() {
                self.set(this, State::Done);
            }
            if state != State::Open || header.is_directory() {
                archive = match entry.skip() {
                    Ok(a) => a,
                    Err(_) => return Pass::Damaged,
                };
                continue;
            }
            let split_before = header.is_split_before();
            let split = split_before || header.is_split_after();
            let encrypted = header.is_encrypted();
            let size = header.unpacked_size;
            let dictionary = self.layout.dictionary(this);
            let oversized = dictionary.is_some_and(|d| d > MAX_DICTIONARY);
            let refused = match dictionary {
                Some(dict) if dict > MAX_DICTIONARY => Some(dictionary_issue(dict)),
                Some(_) => self.refuse(size),
                None => Some(Issue::corrupt(
                    "the RAR block chain could not be followed to this entry, so the \
                     dictionary it would make UnRAR allocate is not known: not decoded",
                )),
            };
            if let Some(issue) = refused {
                self.set(this, State::Done);
                if sink(Entry::Ready(Child::failed(name, issue.clone()))) == Flow::Stop {
                    return Pass::Stop(Ok(()));
                }
                if oversized {
                    // UnRAR allocates an entry's dictionary even to pass
                    // over it (a 171-byte file asked for 4 GiB): the
                    // entries after it are not reached.
                    let why = "an earlier entry's dictionary is above the cap, and UnRAR would allocate it to pass over that entry";
                    return Pass::Stop(self.report_rest(sink, why).and(Err(issue)));
                }
                archive = match entry.skip() {
                    Ok(a) => a,
                    Err(_) => return Pass::Damaged,
                };
                continue;
            }
            let decoded = if size <= self.cx.budget.limits.spill_threshold {
                entry
                    .read()
                    .map(|(bytes, next)| (Staged::Memory(bytes), next))
            } else {
                let file = self.scratch.join("entry");
                entry
                    .extract_to(&file)
                    .map(|next| (Staged::File(file), next))
            };
            match decoded {
                Ok((staged, next)) => {
                    self.set(this, State::Done);
                    let damage = split.then(|| split_issue(split_before));
                    match self.hand(sink, name, staged, damage) {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Stop) => return Pass::Stop(Ok(())),
                        Err(e) => return Pass::Stop(Err(e)),
                    }
                    archive = next;
                }
                Err(e) if encrypted && needs_password(&e) => {
                    self.set(this, State::Locked);
                    return Pass::Locked { solid };
                }
                Err(e) => {
                    self.set(this, State::Done);
                    let issue = if split {
                        split_issue(split_before)
                    } else {
                        Issue::corrupt(format!("RAR entry not decoded: {e}"))
                    };
                    if sink(Entry::Ready(Child::failed(name, issue))) == Flow::Stop {
                        return Pass::Stop(Ok(()));
                    }
                    return Pass::Damaged;
                }
            }
        }
    }

    fn set(&mut self, index: usize, state: State) {
        if let Some(s) = self.states.get_mut(index) {
            *s = state;
        }
    }

    /// Why an entry of this declared size is not decoded, if it is not.
    fn refuse(&self, size: u64) -> Option<Issue> {
        let limits = &self.cx.budget.limits;
        // UnRAR marks a size it was not told as INT64NDF (about 2^63).
        if size >= 1 << 62 {
            return Some(Issue::new(
                ResultCode::ExceededArchiveSize,
                "RAR entry of undeclared size: not decoded",
            ));
        }
        if size > limits.max_object_size {
            return Some(Issue::new(
                ResultCode::ExceededArchiveSize,
                format!(
                    "RAR entry declares {size} bytes, over the object limit of {} bytes: \
                     not decoded",
                    limits.max_object_size
                ),
            ));
        }
        let left = self.cx.budget.room();
        (size > left).then(|| {
            Issue::new(
                ResultCode::ExceededArchiveSize,
                format!(
                    "RAR entry declares {size} bytes, more than the {left} bytes left of the \
                     extraction limit: not decoded"
                ),
            )
        })
    }

    fn hand(
        &self,
        sink: &mut Sink<'_, '_>,
        name: String,
        staged: Staged,
        damage: Option<Issue>,
    ) -> Result<Flow, Issue> {
        match staged {
            Staged::Memory(bytes) => hand_over(sink, self.cx, name, &bytes, None, damage),
            Staged::File(path) => {
                let handed = std::fs::File::open(&path)
                    .map_err(|e| Issue::corrupt(format!("can not read a staged RAR entry: {e}")))
                    .and_then(|mut f| hand_over_from(sink, self.cx, name, &mut f, None, damage));
                let _ = std::fs::remove_file(&path);
                handed
            }
        }
    }
}

/// A decoded entry: in memory when small, else in the scratch directory.
enum Staged {
    Memory(Vec<u8>),
    File(PathBuf),
}

/// Largest dictionary (window) an entry may make UnRAR allocate. WinRAR 5
/// and 6 write at most 1 GiB (default 32 MiB); RAR 7 allows up to 64 GiB.
/// UnRAR does not clear the window, so only the pages decoding touches
/// (at most the entry's size, itself capped) become resident.
const MAX_DICTIONARY: u64 = 1 << 30;

fn dictionary_issue(dict: u64) -> Issue {
    super::memory_limit_issue(&format!(
        "a RAR dictionary of {} MiB, above the {} MiB cap",
        dict >> 20,
        MAX_DICTIONARY >> 20
    ))
}

fn needs_password(e: &UnrarError) -> bool {
    matches!(e.code, Code::MissingPassword | Code::BadPassword)
}

fn headers_locked_note(n: usize) -> String {
    match n {
        0 => "RAR headers are encrypted and no password was supplied".into(),
        n => {
            format!("RAR headers are encrypted and none of the {n} supplied passwords opened them")
        }
    }
}

fn split_issue(before: bool) -> Issue {
    Issue::corrupt(if before {
        "RAR entry begins in an earlier volume, which was not given: not whole"
    } else {
        "RAR entry continues in a later volume, which was not given: not whole"
    })
}

/// The RAR block structure, walked only to learn where an archive ends and
/// how many file headers it has.
pub(crate) mod blocks {
    use crate::bytes::{le_u16, le_u32};

    const SIG4: &[u8] = b"Rar!\x1a\x07\x00";
    const SIG5: &[u8] = b"Rar!\x1a\x07\x01\x00";
    /// Blocks walked before giving up.
    const MAX_BLOCKS: usize = 1 << 21;

    /// What the walk found.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub(crate) struct Layout {
        /// Where the archive ends: after its end-of-archive block, or (old
        /// archives wrote none) where the last block ends the data exactly.
        /// `None` when the headers are encrypted or do not chain.
        pub(crate) end: Option<usize>,
        /// Whether an end-of-archive block was found.
        pub(crate) marked: bool,
        /// File headers walked.
        pub(crate) files: usize,
        /// The dictionary (window) each RAR 5 file header asks UnRAR to
        /// allocate, in order; 0 for directories and RAR 4 (at most 4 MiB).
        pub(crate) dicts: Vec<u64>,
        /// The largest dictionary a RAR 5 service header (comment, ACL,
        /// stream) asks for.
        pub(crate) service_dict: u64,
        /// RAR 1.5-4 (or 1.4): no dictionary above 4 MiB, whatever the
        /// headers say.
        pub(crate) small_windows: bool,
        /// The headers are encrypted: UnRAR reads them with the password,
        /// this walk can not.
        pub(crate) encrypted_headers: bool,
    }

    impl Layout {
        /// The dictionary the `i`-th file header makes UnRAR allocate:
        /// `None` when the walk did not reach it in a RAR 5 archive whose
        /// headers are readable (the chain broke where UnRAR may read on).
        /// Behind encrypted headers it is not knowable here (0: UnRAR
        /// reserves the window, pages are touched only as output is
        /// decoded, and the output is capped).
        pub(crate) fn dictionary(&self, i: usize) -> Option<u64> {
            match self.dicts.get(i) {
                Some(d) => Some(*d),
                None if self.small_windows || self.encrypted_headers => Some(0),
                None => None,
            }
        }
    }

    /// Whether `d` starts with a RAR signature (1.4, 1.5-4 or 5).
    pub(crate) fn signed(d: &[u8]) -> bool {
        d.starts_with(SIG5) || d.starts_with(SIG4) || d.starts_with(b"RE~^")
    }

    pub(crate) fn layout(d: &[u8]) -> Layout {
        let mut l = Layout::default();
        let end = if d.starts_with(SIG5) {
            walk5(d, &mut l)
        } else if d.starts_with(SIG4) {
            l.small_windows = true;
            walk4(d, &mut l)
        } else {
            l.small_windows = d.starts_with(b"RE~^");
            None
        };
        l.end = end;
        l
    }

    fn walk4(d: &[u8], l: &mut Layout) -> Option<usize> {
        let mut at = SIG4.len();
        for _ in 0..MAX_BLOCKS {
            if at == d.len() {
                return Some(at);
            }
            let kind = *d.get(at + 2)?;
            let flags = le_u16(d, at + 3)?;
            let head = usize::from(le_u16(d, at + 5)?);
            if head < 7 {
                return None;
            }
            // Encrypted headers (MHD_PASSWORD): the rest is not readable.
            if kind == 0x73 && flags & 0x80 != 0 {
                l.encrypted_headers = true;
                return None;
            }
            let mut add = 0u64;
            if kind == 0x74 || kind == 0x7a || flags & 0x8000 != 0 {
                add = u64::from(le_u32(d, at + 7)?);
                // LHD_LARGE: the high 32 bits of the packed size.
                if (kind == 0x74 || kind == 0x7a) && flags & 0x100 != 0 {
                    add |= u64::from(le_u32(d, at + 32)?) << 32;
                }
            }
            let next = (at as u64).checked_add(head as u64)?.checked_add(add)?;
            let next = usize::try_from(next).ok()?;
            if next > d.len() {
                return None;
            }
            match kind {
                0x74 => {
                    l.files += 1;
                    l.dicts.push(0);
                }
                0x7b => {
                    l.marked = true;
                    return Some(next);
                }
                _ => {}
            }
            at = next;
        }
        None
    }

    /// A RAR 5 variable-length integer: (value, bytes used).
    fn vint(d: &[u8], at: usize) -> Option<(u64, usize)> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *d.get(at + i)?;
            v |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
            if b & 0x80 == 0 {
                return Some((v, i + 1));
            }
        }
        None
    }

    /// The dictionary a RAR 5 file or service header at `p` (just after
    /// its data size) declares, as UnRAR computes it.
    fn dictionary(d: &[u8], mut p: usize) -> Option<u64> {
        let (file_flags, n) = vint(d, p)?;
        p += n;
        p += vint(d, p)?.1; // unpacked size
        p += vint(d, p)?.1; // attributes
        if file_flags & 2 != 0 {
            p += 4; // mtime
        }
        if file_flags & 4 != 0 {
            p += 4; // CRC32
        }
        let (ci, _) = vint(d, p)?;
        // A directory has no dictionary.
        if file_flags & 1 != 0 {
            return Some(0);
        }
        let version = ci & 0x3f;
        let bits = (ci >> 10) & if version == 0 { 0x0f } else { 0x1f };
        let mut win = 0x20000u64.checked_shl(u32::try_from(bits).ok()?)?;
        if version != 0 {
            win += win / 32 * ((ci >> 15) & 0x1f);
        }
        Some(win)
    }

    fn walk5(d: &[u8], l: &mut Layout) -> Option<usize> {
        let mut at = SIG5.len();
        for _ in 0..MAX_BLOCKS {
            if at == d.len() {
                return Some(at);
            }
            let (size, n) = vint(d, at + 4)?;
            let body = at + 4 + n;
            let (kind, k) = vint(d, body)?;
            let (flags, f) = vint(d, body + k)?;
            let mut p = body + k + f;
            if flags & 1 != 0 {
                p += vint(d, p)?.1;
            }
            let data = if flags & 2 != 0 {
                let (v, n) = vint(d, p)?;
                p += n;
                v
            } else {
                0
            };
            let next = (body as u64).checked_add(size)?.checked_add(data)?;
            let next = usize::try_from(next).ok()?;
            if next > d.len() || size == 0 {
                return None;
            }
            match kind {
                2 => {
                    l.files += 1;
                    l.dicts.push(dictionary(d, p).unwrap_or(0));
                }
                3 => l.service_dict = l.service_dict.max(dictionary(d, p).unwrap_or(0)),
                // Archive encryption header: the rest is not readable.
                4 => {
                    l.encrypted_headers = true;
                    return None;
                }
                5 => {
                    l.marked = true;
                    return Some(next);
                }
                _ => {}
            }
            at = next;
        }
        None
    }
}
