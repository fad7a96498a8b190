//! NSIS installer data through the `nsis` crate (NSIS 1.x to 3.x, ANSI and
//! Unicode, the Jim Park fork; zlib, bzip2 and LZMA, solid or not): every
//! file the install script extracts, under its script path.
//!
//! The data is found by the carver in an executable's overlay (from the
//! first header, `\xef\xbe\xad\xdeNullsoftInst`); the crate reads
//! installers as whole executables, so the data is read behind a minimal
//! PE32 stub of our own. Decompression is capped at the object limit and
//! what is left of the tree's budget (over it: 13).

use nsis::{Error as NsisError, NsisInstaller};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct Nsis;

/// Files read from one installer.
const MAX_FILES: usize = 1 << 20;

/// A PE32 image of 0x400 bytes whose one section ends where the stub ends,
/// so everything after it is the overlay.
fn stub() -> Vec<u8> {
    let mut d = vec![0u8; 0x400];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(slot) = d.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    };
    put(0, b"MZ");
    put(0x3c, &0x80u32.to_le_bytes());
    put(0x80, b"PE\0\0");
    put(0x84, &0x014cu16.to_le_bytes()); // i386
    put(0x86, &1u16.to_le_bytes()); // one section
    put(0x94, &0xe0u16.to_le_bytes()); // optional header size
    put(0x96, &0x0102u16.to_le_bytes()); // executable, 32-bit
    put(0x98, &0x010bu16.to_le_bytes()); // PE32
    put(0x98 + 92, &16u32.to_le_bytes()); // data directories
    let section = 0x98 + 0xe0;
    put(section, b".text\0\0\0");
    put(section + 8, &0x200u32.to_le_bytes()); // virtual size
    put(section + 12, &0x1000u32.to_le_bytes()); // virtual address
    put(section + 16, &0x200u32.to_le_bytes()); // raw size
    put(section + 20, &0x200u32.to_le_bytes()); // raw pointer
    d
}

fn issue_of(e: &NsisError, what: &str) -> Issue {
    let text = e.to_string();
    if matches!(e, NsisError::OutputTooLarge { .. }) {
        Issue::new(
            ResultCode::ExceededArchiveSize,
            format!("NSIS {what} over the size limit: {text}"),
        )
    } else {
        Issue::corrupt(format!("NSIS {what} not read: {text}"))
    }
}

impl Extractor for Nsis {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut image = stub();
        image.extend_from_slice(data);
        let limits = &cx.budget.limits;
        let left = cx.budget.room().min(limits.max_object_size);
        let cap = usize::try_from(left).unwrap_or(usize::MAX);
        let installer = NsisInstaller::builder(&image)
            .max_decompressed_size(cap)
            .parse()
            .map_err(|e| issue_of(&e, "installer"))?;
        for (i, file) in installer.files().enumerate() {
            if i >= MAX_FILES {
                return Err(Issue::new(
                    ResultCode::ExceededArchiveFileNumber,
                    format!("NSIS installer has more than {MAX_FILES} files"),
                ));
            }
            cx.budget.check().map_err(Issue::stopped)?;
            let file = match file {
                Ok(f) => f,
                Err(e) => {
                    let name = format!("[file-{}]", i + 1);
                    let issue = issue_of(&e, "file entry");
                    if sink(Entry::Ready(Child::failed(name, issue))) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                }
            };
            let name = file
                .name()
                .map(|n| sanitize_name(&n.to_string().replace('$', "")))
                .unwrap_or_else(|_| format!("[file-{}]", i + 1));
            match file.decompress() {
                Ok(bytes) => {
                    if hand_over(sink, cx, name, &bytes, None, None)? == Flow::Stop {
                        return Ok(());
                    }
                }
                Err(e) => {
                    let issue = issue_of(&e, "file");
                    if sink(Entry::Ready(Child::failed(name, issue))) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}
