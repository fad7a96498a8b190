//! Object storage: small objects on the heap, large ones spilled to an
//! anonymous temporary file and memory-mapped, so peak memory does not grow
//! with the size of what an archive expands to.

use std::fs::File;
use std::io::{self, Read, Write};

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
        Ok(Blob(Repr::Mapped { map, _file: file }))
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
}
