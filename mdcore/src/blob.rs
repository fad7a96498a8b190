//! Object storage: small objects on the heap, large ones spilled to an
//! anonymous temporary file and memory-mapped, so peak memory does not grow
//! with the size of what an archive expands to.
//!
//! A mapped page, once read, stays in the process (and in its RSS) until the
//! mapping goes, so reading a 4 GiB spill three times over (digests, engines,
//! its reader) would hold 4 GiB. While a big mapped object is being read,
//! [`Trim`] has a background thread drop its pages from the process every
//! few milliseconds; the bytes stay in the page cache (or on disk) and fault
//! back in when read again, so nothing changes but the footprint.

use std::fs::File;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The bytes of one object, owned.
///
/// Dereferences to `[u8]` whether the bytes live on the heap or in a mapped
/// temporary file. A spilled blob's file has no name on disk (it is unlinked
/// when created) and disappears when the blob is dropped.
#[derive(Debug)]
pub struct Blob(Repr);

#[derive(Debug)]
enum Repr {
    Heap(Vec<u8>),
    Mapped {
        map: memmap2::Mmap,
        // Kept open for the lifetime of the mapping.
        _file: File,
        /// Its entry in the trim registry, if big enough to have one.
        registered: Option<u64>,
    },
}

impl Blob {
    /// A blob holding `bytes` on the heap.
    pub fn from_vec(bytes: Vec<u8>) -> Blob {
        Blob(Repr::Heap(bytes))
    }

    /// Maps a file read-only. Used for inputs given by path and for spilled
    /// objects; an empty file becomes an empty heap blob (mapping zero bytes
    /// is an error on most systems).
    pub(crate) fn map_file(file: File) -> io::Result<Blob> {
        if file.metadata()?.len() == 0 {
            return Ok(Blob::from_vec(Vec::new()));
        }
        // SAFETY: memory maps are unsafe because another process may change
        // the file under the mapping. Spilled objects live in anonymous,
        // already-unlinked temporary files that only this blob can reach and
        // nobody writes after this point. For inputs given by path the caller
        // (`Scanner::scan_path`) documents that the file must not be modified
        // during the scan, the same contract ripgrep and YARA take.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        let registered = (map.len() >= TRIM_FROM).then(|| {
            let mut r = regions();
            let id = r.take_id();
            r.mapped.push((id, map.as_ptr() as usize, map.len()));
            id
        });
        Ok(Blob(Repr::Mapped {
            map,
            _file: file,
            registered,
        }))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Heap(v) => v,
            Repr::Mapped { map, .. } => map,
        }
    }

    /// Whether the bytes live in a mapped temporary file rather than the heap.
    pub fn is_spilled(&self) -> bool {
        matches!(self.0, Repr::Mapped { .. })
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        // Forgotten before the unmapping (the fields drop after this), so
        // the trimmer never advises an address that is no longer this map.
        if let Repr::Mapped {
            registered: Some(id),
            ..
        } = &self.0
        {
            regions().mapped.retain(|&(entry, _, _)| entry != *id);
        }
    }
}

/// Mapped objects at least this big are trimmed while read.
const TRIM_FROM: usize = 64 << 20;

/// How often the pages of an object being read are dropped. The fastest
/// reader (a SIMD search over a 4 GiB tar) maps ~12 GB/s, so 4 ms lets it
/// bring in ~50 MiB between two trims. A pass costs 0.05-0.1 ms (the
/// big.tar.zst bench: 20 ms gave a 585 MiB peak, 5 ms 378 MiB, 2 ms
/// 326 MiB for 2% of a core).
const TRIM_EVERY: Duration = Duration::from_millis(4);

#[derive(Default)]
struct Regions {
    /// Big mappings alive (id, start, length): only these may be trimmed.
    /// The id, not the address, names a mapping: a dropped map's address
    /// can be handed to the next one at once.
    mapped: Vec<(u64, usize, usize)>,
    /// Ranges being read (id, start, length), each inside one of `mapped`.
    hot: Vec<(u64, usize, usize)>,
    next_id: u64,
    thread: bool,
}

impl Regions {
    /// Whether `start..end` lies inside one of the big mappings alive.
    fn maps(&self, start: usize, end: usize) -> bool {
        self.mapped
            .iter()
            .any(|&(_, s, len)| s <= start && end <= s.saturating_add(len))
    }

    /// A fresh id for a mapping or a range being read.
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }
}

struct Registry {
    regions: Mutex<Regions>,
    wake: Condvar,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        regions: Mutex::new(Regions::default()),
        wake: Condvar::new(),
    })
}

fn regions() -> MutexGuard<'static, Regions> {
    // The lock guards plain vectors that no code path leaves half-updated,
    // so a poisoned lock is still consistent.
    registry().regions.lock().unwrap_or_else(|e| e.into_inner())
}

/// While alive, the pages of one big object read from a memory map are
/// dropped from the process every [`TRIM_EVERY`] (see the module's notes).
/// Borrowing the bytes, it cannot outlive the mapping.
#[derive(Debug)]
pub(crate) struct Trim<'a> {
    id: u64,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> Trim<'a> {
    /// A trim of `bytes` if they are big and lie in a mapped blob; `None`
    /// for anything else (heap bytes are never touched).
    pub(crate) fn during(bytes: &'a [u8]) -> Option<Trim<'a>> {
        if bytes.len() < TRIM_FROM || !cfg!(unix) {
            return None;
        }
        let start = bytes.as_ptr() as usize;
        let end = start.checked_add(bytes.len())?;
        let mut r = regions();
        if !r.maps(start, end) {
            return None;
        }
        let id = r.take_id();
        r.hot.push((id, start, bytes.len()));
        if !r.thread {
            let spawned = std::thread::Builder::new()
                .name("mdscan-trim".into())
                .spawn(trim_loop);
            r.thread = spawned.is_ok();
        }
        drop(r);
        registry().wake.notify_one();
        Some(Trim {
            id,
            _bytes: PhantomData,
        })
    }
}

impl Drop for Trim<'_> {
    fn drop(&mut self) {
        regions().hot.retain(|&(id, _, _)| id != self.id);
    }
}

/// Drops the pages of `bytes` from the process now, if they lie in a big
/// mapped blob (a reader done with a stretch of it calls this, so the pages
/// go without waiting for the trimmer); heap bytes are left alone.
pub(crate) fn release(bytes: &[u8]) {
    if !cfg!(unix) {
        return;
    }
    let start = bytes.as_ptr() as usize;
    let Some(end) = start.checked_add(bytes.len()) else {
        return;
    };
    if regions().maps(start, end) {
        drop_pages(start, bytes.len());
    }
}

/// The trimmer: sleeps while nothing is hot, else drops the hot ranges'
/// pages every [`TRIM_EVERY`]. The lock is held while advising, so a range
/// is never advised after its [`Trim`] is dropped.
fn trim_loop() {
    loop {
        let mut r = regions();
        while r.hot.is_empty() {
            r = registry().wake.wait(r).unwrap_or_else(|e| e.into_inner());
        }
        for &(_, start, len) in &r.hot {
            drop_pages(start, len);
        }
        drop(r);
        std::thread::sleep(TRIM_EVERY);
    }
}

/// Drops the whole pages of `start..start + len` from the process. Only
/// called on ranges inside read-only shared file mappings, where the kernel
/// refills a dropped page from the file on the next read.
#[cfg(unix)]
fn drop_pages(start: usize, len: usize) {
    static PAGE: OnceLock<usize> = OnceLock::new();
    let page = *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        #[allow(unsafe_code)]
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(p)
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096)
    });
    let first = start.saturating_add(page - 1) & !(page - 1);
    let last = start.saturating_add(len) & !(page - 1);
    if last > first {
        // SAFETY: the range is inside a live read-only MAP_SHARED mapping of
        // a file (registered by `Blob::map_file`, unregistered before it is
        // unmapped, under the same lock held by the caller). For such a
        // mapping MADV_DONTNEED only drops the page-table entries: the next
        // read of the range faults the same bytes back in from the file, so
        // any slice of it other threads hold reads unchanged. A failure
        // (EINVAL, EAGAIN) leaves the pages where they were, which is only
        // a missed trim.
        #[allow(unsafe_code)]
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_DONTNEED,
            );
        }
    }
}

#[cfg(not(unix))]
fn drop_pages(_start: usize, _len: usize) {}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Accumulates an object being decoded; spills to a temporary file once it
/// grows past a threshold.
#[derive(Debug)]
pub(crate) struct BlobWriter {
    spill_at: u64,
    heap: Vec<u8>,
    file: Option<io::BufWriter<File>>,
    len: u64,
}

impl BlobWriter {
    pub(crate) fn new(spill_at: u64) -> Self {
        BlobWriter {
            spill_at,
            heap: Vec::new(),
            file: None,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len = self.len.saturating_add(bytes.len() as u64);
        if self.file.is_none() && self.len > self.spill_at {
            let mut file = io::BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
            file.write_all(&self.heap)?;
            self.heap = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(f) => f.write_all(bytes),
            None => {
                self.heap.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    pub(crate) fn finish(self) -> io::Result<Blob> {
        match self.file {
            None => Ok(Blob::from_vec(self.heap)),
            Some(f) => {
                let file = f.into_inner().map_err(|e| e.into_error())?;
                Blob::map_file(file)
            }
        }
    }
}

/// Reads a whole stream into a blob, spilling past `spill_at`, with no size
/// limit (used for the root object of `scan_reader`).
pub(crate) fn read_all(mut r: impl Read, spill_at: u64) -> io::Result<Blob> {
    let mut w = BlobWriter::new(spill_at);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write(buf.get(..n).unwrap_or_default())?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_on_heap_big_spills_and_reads_back() {
        let mut w = BlobWriter::new(10);
        w.write(b"hello").unwrap();
        let b = w.finish().unwrap();
        assert!(!b.is_spilled());
        assert_eq!(&*b, b"hello");

        let mut w = BlobWriter::new(10);
        w.write(b"hello ").unwrap();
        w.write(b"spilled world").unwrap();
        let b = w.finish().unwrap();
        assert!(b.is_spilled());
        assert_eq!(&*b, b"hello spilled world");
    }

    /// Resident size of the mapping that starts at `at`, from
    /// /proc/self/smaps (other mappings and threads do not count).
    #[cfg(target_os = "linux")]
    fn resident(at: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut in_it = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, _)) = range.split_once('-')
                && let Ok(lo) = usize::from_str_radix(lo, 16)
            {
                in_it = lo == at;
                continue;
            }
            if in_it && let Some(kb) = line.strip_prefix("Rss:") {
                return kb
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
                    << 10;
            }
        }
        panic!("no mapping at {at:#x}");
    }

    fn big_spill(seed: u8) -> Blob {
        let mut w = BlobWriter::new(1 << 20);
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i as u8) ^ seed).collect();
        for _ in 0..(TRIM_FROM >> 20) + 8 {
            w.write(&chunk).unwrap();
        }
        let b = w.finish().unwrap();
        assert!(b.is_spilled());
        b
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_big_mapped_object_leaves_the_process_while_read_and_reads_the_same() {
        use sha2::{Digest, Sha256};
        let sum = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };

        // The twin: read without a trim, its pages stay.
        let kept = big_spill(1);
        let want = sum(&kept);
        assert!(resident(kept.as_ptr() as usize) >= kept.len() as u64 / 2);

        let blob = big_spill(1);
        let at = blob.as_ptr() as usize;
        let trim = Trim::during(&blob).expect("a big spilled blob is trimmed");
        // Read it over and over while the trimmer drops pages under the
        // readers: the bytes never change.
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..3 {
                        assert_eq!(sum(&blob), want);
                    }
                });
            }
        });
        std::thread::sleep(TRIM_EVERY * 5);
        let left = resident(at);
        assert!(
            left < 16 << 20,
            "{left} bytes of the trimmed map are resident"
        );
        drop(trim);
        // Once the trim is gone, pages read stay again.
        assert_eq!(sum(&blob), want);
        std::thread::sleep(TRIM_EVERY * 5);
        assert!(resident(at) >= blob.len() as u64 / 2);
    }

    #[test]
    fn heap_bytes_and_small_maps_are_never_trimmed() {
        let heap = vec![7u8; TRIM_FROM + 1];
        assert!(Trim::during(&heap).is_none());
        let mut w = BlobWriter::new(10);
        w.write(&[1u8; 4096]).unwrap();
        let small = w.finish().unwrap();
        assert!(small.is_spilled());
        assert!(Trim::during(&small).is_none());
        // A slice of a big map is trimmed when itself big, not when small.
        let big = big_spill(2);
        assert!(Trim::during(big.get(4096..4096 + TRIM_FROM).unwrap()).is_some());
        assert!(Trim::during(big.get(..4096).unwrap()).is_none());
        // A dropped map is forgotten.
        let Repr::Mapped {
            registered: Some(id),
            ..
        } = &big.0
        else {
            panic!("a big spilled blob is registered");
        };
        let id = *id;
        assert!(regions().mapped.iter().any(|&(entry, _, _)| entry == id));
        drop(big);
        assert!(!regions().mapped.iter().any(|&(entry, _, _)| entry == id));
    }
}
