//! The shared blob store: uploaded files and children of fanned-out archives,
//! visible to the gateway and every worker. One type, two backends: a
//! directory (one machine, or a network file system mounted everywhere) and
//! an S3-compatible object store through `object_store`.
//!
//! Keys are `/`-separated relative paths made by this crate (hex digests and
//! ids), never user input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjPath;
use tokio::io::AsyncWriteExt;

use crate::Error;

/// Where blobs live, parsed from `MDSCAN_BLOB_URL`.
#[derive(Clone, Debug)]
pub enum Blobs {
    /// `file:///shared/dir`: a directory every process can reach.
    Dir(PathBuf),
    /// `s3://bucket/prefix`: an S3-compatible store. Credentials, region and
    /// endpoint come from the usual `AWS_*` variables (`AWS_ENDPOINT` and
    /// `AWS_ALLOW_HTTP=true` for a local server).
    S3 {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// Key prefix inside the bucket (may be empty).
        prefix: String,
    },
}

/// A blob available as a local file for as long as this value lives.
#[derive(Debug)]
pub enum LocalBlob {
    /// The blob's own file (directory backend): nothing to copy.
    Shared(PathBuf),
    /// A downloaded copy, deleted on drop.
    Copy(tempfile::TempPath),
}

impl LocalBlob {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            LocalBlob::Shared(p) => p,
            LocalBlob::Copy(t) => t,
        }
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(Error::Blob(format!("invalid blob key `{key}`")));
    }
    Ok(())
}

impl Blobs {
    /// Parses `file:///dir` (or a plain absolute path) or `s3://bucket/prefix`.
    pub fn from_url(url: &str) -> Result<Blobs, Error> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return Blobs::s3(bucket, prefix, &[]);
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if !dir.starts_with('/') {
            return Err(Error::Blob(format!(
                "blob store `{url}`: use file:///absolute/dir or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Blob(format!("can not create the blob directory {dir}: {e}")))?;
        Ok(Blobs::Dir(PathBuf::from(dir)))
    }

    /// An S3-compatible store: settings from the `AWS_*` variables, then
    /// `options` (object_store's keys: `aws_endpoint`, `aws_allow_http`,
    /// `aws_access_key_id`, …).
    pub fn s3(bucket: &str, prefix: &str, options: &[(&str, &str)]) -> Result<Blobs, Error> {
        if bucket.is_empty() {
            return Err(Error::Blob("no S3 bucket given".into()));
        }
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (k, v) in options {
            let key: object_store::aws::AmazonS3ConfigKey = k
                .parse()
                .map_err(|e| Error::Blob(format!("S3 option `{k}`: {e}")))?;
            b = b.with_config(key, *v);
        }
        let store = b
            .build()
            .map_err(|e| Error::Blob(format!("S3 bucket `{bucket}`: {e}")))?;
        Ok(Blobs::S3 {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn obj(&self, key: &str) -> ObjPath {
        match self {
            Blobs::S3 { prefix, .. } if !prefix.is_empty() => {
                ObjPath::from(format!("{prefix}/{key}"))
            }
            _ => ObjPath::from(key),
        }
    }

    /// Stores the file at `src` under `key` (atomically: readers see all of
    /// it or nothing). Streams: memory does not grow with the file.
    pub async fn put_file(&self, key: &str, src: &Path) -> Result<(), Error> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => {
                let dst = dir.join(key);
                if let Some(parent) = dst.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let tmp = dst.with_extension(format!("part-{:016x}", rand::random::<u64>()));
                tokio::fs::copy(src, &tmp).await?;
                tokio::fs::File::open(&tmp).await?.sync_all().await?;
                tokio::fs::rename(&tmp, &dst).await?;
                Ok(())
            }
            Blobs::S3 { store, .. } => {
                let mut f = tokio::fs::File::open(src).await?;
                let mut w = object_store::buffered::BufWriter::new(store.clone(), self.obj(key));
                tokio::io::copy(&mut f, &mut w).await?;
                w.shutdown().await?;
                Ok(())
            }
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => Ok(tokio::fs::try_exists(dir.join(key)).await?),
            Blobs::S3 { store, .. } => match store.head(&self.obj(key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(Error::Blob(e.to_string())),
            },
        }
    }

    /// The blob as a local file, downloading it (into `tmp_dir`) if needed.
    pub async fn fetch(&self, key: &str, tmp_dir: &Path) -> Result<LocalBlob, Error> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => {
                let p = dir.join(key);
                if !tokio::fs::try_exists(&p).await? {
                    return Err(Error::Blob(format!("blob `{key}` is missing")));
                }
                Ok(LocalBlob::Shared(p))
            }
            Blobs::S3 { store, .. } => {
                let got = store
                    .get(&self.obj(key))
                    .await
                    .map_err(|e| Error::Blob(format!("blob `{key}`: {e}")))?;
                let tmp = tempfile::NamedTempFile::new_in(tmp_dir)?.into_temp_path();
                let mut f = tokio::fs::File::create(&tmp).await?;
                let mut stream = got.into_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| Error::Blob(format!("blob `{key}`: {e}")))?;
                    f.write_all(&chunk).await?;
                }
                f.flush().await?;
                Ok(LocalBlob::Copy(tmp))
            }
        }
    }

    /// Deletes `key`; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => match tokio::fs::remove_file(dir.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            Blobs::S3 { store, .. } => match store.delete(&self.obj(key)).await {
                Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                Err(e) => Err(Error::Blob(e.to_string())),
            },
        }
    }

    /// Free bytes where blobs are kept (0 when the backend can not tell).
    pub fn free_space(&self) -> u64 {
        match self {
            Blobs::Dir(dir) => fs4::available_space(dir).unwrap_or(0),
            Blobs::S3 { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_can_not_escape() {
        for k in ["", "/etc/passwd", "a/../b", "a//b", "..", "./a"] {
            assert!(check_key(k).is_err(), "{k}");
        }
        assert!(check_key("uploads/ab/abcdef").is_ok());
    }

    #[tokio::test]
    async fn directory_backend_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::from_url(&format!("file://{}", dir.path().display())).unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"payload").unwrap();
        assert!(!blobs.exists("a/b").await.unwrap());
        blobs.put_file("a/b", &src).await.unwrap();
        assert!(blobs.exists("a/b").await.unwrap());
        let local = blobs.fetch("a/b", dir.path()).await.unwrap();
        assert_eq!(std::fs::read(local.path()).unwrap(), b"payload");
        blobs.delete("a/b").await.unwrap();
        blobs.delete("a/b").await.unwrap();
        assert!(blobs.fetch("a/b", dir.path()).await.is_err());
        assert!(Blobs::from_url("relative/dir").is_err());
    }
}
