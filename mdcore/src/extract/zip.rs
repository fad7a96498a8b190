//! ZIP (and OOXML, JAR, APK, … which are ZIPs) through the `zip` crate.
//!
//! The central directory is read once; every member is then a deferred
//! child decoded on its own pool thread from a clone of the archive (clones
//! share the parsed directory and read the same bytes), so the members of
//! one archive decompress in parallel. Methods: stored, deflate, deflate64,
//! bzip2, lzma, xz, zstd; ZipCrypto and AES with the supplied passwords.

use std::io::Cursor;

use zip::ZipArchive;
use zip::result::ZipError;

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct Zip;

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

impl Extractor for Zip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let archive = ZipArchive::new(Cursor::new(data))
            .map_err(|e| Issue::corrupt(format!("not a readable zip archive: {e}")))?;
        for index in 0..archive.len() {
            let (name, is_dir) = match archive.by_index_data(index) {
                Ok(e) => (
                    sanitize_name(&String::from_utf8_lossy(e.name_raw())),
                    e.is_dir(),
                ),
                Err(e) => {
                    let child = Child::failed(
                        format!("[entry {index}]"),
                        Issue::corrupt(format!("corrupt central directory entry: {e}")),
                    );
                    if sink(Entry::Ready(child)) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                }
            };
            if is_dir {
                continue;
            }
            let mut archive = archive.clone();
            let job = Box::new(move |emit: &mut super::Emit<'_>| {
                emit(read_member(&mut archive, index, name, cx));
            });
            if sink(Entry::Deferred { members: 1, job }) == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn read_member(archive: &mut Archive<'_>, index: usize, name: String, cx: &Cx<'_>) -> Child {
    if let Err(stop) = cx.budget.check() {
        return Child::failed(name, Issue::stopped(stop));
    }
    let (encrypted, method) = match archive.by_index_data(index) {
        Ok(e) => (e.encrypted(), e.compression()),
        Err(e) => return Child::failed(name, open_issue(e)),
    };
    #[allow(deprecated)]
    if let zip::CompressionMethod::Unsupported(m) = method {
        return Child::failed(
            name,
            Issue::new(
                ResultCode::UnsupportedFileType,
                format!("zip compression method {m} is not supported"),
            ),
        );
    }
    if !encrypted {
        return match archive.by_index(index) {
            Ok(mut file) => read_child(&mut file, cx.budget).into_child(name),
            Err(e) => Child::failed(name, open_issue(e)),
        };
    }
    for (i, password) in cx.passwords.iter().enumerate() {
        let last = i + 1 == cx.passwords.len();
        match archive.by_index_decrypt(index, password.as_bytes()) {
            Ok(mut file) => {
                let produced = read_child(&mut file, cx.budget);
                // ZipCrypto's check byte lets 1 wrong password in 256 pass; the
                // CRC at the end then fails. Try the next password.
                let bad = produced
                    .issue
                    .as_ref()
                    .is_some_and(|i| i.code == ResultCode::Failed);
                if bad && produced.stop.is_none() {
                    if last {
                        return Child::failed(name, wrong_password(cx));
                    }
                    continue;
                }
                return produced.into_child(name);
            }
            Err(ZipError::InvalidPassword) => {}
            Err(e) => return Child::failed(name, open_issue(e)),
        }
    }
    Child::failed(name, wrong_password(cx))
}

fn wrong_password(cx: &Cx<'_>) -> Issue {
    let note = match cx.passwords.len() {
        0 => "encrypted member and no password was supplied".to_string(),
        n => format!("encrypted member; none of the {n} supplied passwords opened it"),
    };
    Issue::new(ResultCode::EncryptedArchive, note)
}

fn open_issue(e: ZipError) -> Issue {
    match e {
        ZipError::CompressionMethodNotSupported(m) => Issue::new(
            ResultCode::UnsupportedFileType,
            format!("zip compression method {m} is not supported"),
        ),
        ZipError::UnsupportedArchive(msg) if msg.to_ascii_lowercase().contains("password") => {
            Issue::new(ResultCode::EncryptedArchive, msg)
        }
        ZipError::UnsupportedArchive(msg) => Issue::new(
            ResultCode::UnsupportedFileType,
            format!("unsupported zip member: {msg}"),
        ),
        e => Issue::corrupt(format!("can not open zip member: {e}")),
    }
}
