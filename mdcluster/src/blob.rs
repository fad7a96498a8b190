//! The shared blob store: uploaded files and children of fanned-out archives,
//! visible to the gateway and every worker. One trait, [`BlobStore`], with
//! two backends: [`DirStore`], a directory (one machine, or a network file
//! system mounted everywhere), and [`S3Store`], an S3-compatible object
//! store through `object_store`. [`Blobs`] is the handle the rest of the
//! cluster uses; it checks keys and picks the backend from a URL.
//!
//! Keys are `/`-separated relative paths made by this crate (hex digests and
//! ids), never user input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjPath;
use tokio::io::AsyncWriteExt;

use crate::{Error, LinkTls};

/// A place to keep blobs. Implementations store whole files atomically
/// (readers see all of a blob or nothing) and stream: memory does not grow
/// with a blob's size.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores the file at `src` under `key`, replacing any blob there.
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFuture<'a, Result<(), Error>>;
    /// Whether `key` exists.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, Error>>;
    /// The blob as a local file; a copy goes in `tmp_dir` if one is needed.
    /// A blob that is not there is an [`Error::Blob`].
    fn fetch<'a>(
        &'a self,
        key: &'a str,
        tmp_dir: &'a Path,
    ) -> BoxFuture<'a, Result<LocalBlob, Error>>;
    /// Deletes `key`; a missing blob is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// Free bytes where blobs are kept (0 when the backend can not tell).
    fn free_space(&self) -> u64;
    /// Keys under `prefix` (a folder, `uploads` say) last written before
    /// `before_ms` (ms since the epoch), at most `limit` of them: what the
    /// retention sweep looks at.
    fn list_older<'a>(
        &'a self,
        prefix: &'a str,
        before_ms: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<String>, Error>>;
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

/// Blobs in a directory.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// Blobs under `dir`, created if needed.
    pub fn new(dir: impl Into<PathBuf>) -> Result<DirStore, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Blob(format!(
                "can not create the blob directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(DirStore { dir })
    }
}

impl BlobStore for DirStore {
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let dst = self.dir.join(key);
            if let Some(parent) = dst.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            // Copy beside, flush, rename: a reader never sees half a blob.
            let tmp = dst.with_extension(format!("part-{:016x}", rand::random::<u64>()));
            tokio::fs::copy(src, &tmp).await?;
            tokio::fs::File::open(&tmp).await?.sync_all().await?;
            tokio::fs::rename(&tmp, &dst).await?;
            // The rename itself survives a crash only once the directory
            // is flushed.
            if let Some(parent) = dst.parent() {
                tokio::fs::File::open(parent).await?.sync_all().await?;
            }
            Ok(())
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move { Ok(tokio::fs::try_exists(self.dir.join(key)).await?) })
    }

    fn fetch<'a>(
        &'a self,
        key: &'a str,
        _tmp_dir: &'a Path,
    ) -> BoxFuture<'a, Result<LocalBlob, Error>> {
        Box::pin(async move {
            let p = self.dir.join(key);
            if !tokio::fs::try_exists(&p).await? {
                return Err(Error::Blob(format!("blob `{key}` is missing")));
            }
            Ok(LocalBlob::Shared(p))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let p = self.dir.join(key);
            match tokio::fs::remove_file(&p).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => {
                    // A folder of one fanned-out root (`children/{root}`)
                    // goes with its last blob; a non-empty one stays.
                    if key.matches('/').count() >= 2
                        && let Some(parent) = p.parent()
                    {
                        let _ = tokio::fs::remove_dir(parent).await;
                    }
                    Ok(())
                }
            }
        })
    }

    fn free_space(&self) -> u64 {
        fs4::available_space(&self.dir).unwrap_or(0)
    }

    fn list_older<'a>(
        &'a self,
        prefix: &'a str,
        before_ms: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move {
            let base = self.dir.clone();
            let start = base.join(prefix);
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let mut dirs = vec![start];
                while let Some(d) = dirs.pop() {
                    let Ok(rd) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in rd.flatten() {
                        if out.len() >= limit {
                            return out;
                        }
                        let Ok(meta) = e.metadata() else { continue };
                        let path = e.path();
                        if meta.is_dir() {
                            dirs.push(path);
                            continue;
                        }
                        let old = meta.modified().map(ms).is_ok_and(|m| m < before_ms);
                        if old
                            && let Ok(rel) = path.strip_prefix(&base)
                            && let Some(key) = rel.to_str()
                        {
                            out.push(key.replace(std::path::MAIN_SEPARATOR, "/"));
                        }
                    }
                }
                out
            })
            .await
            .map_err(|e| Error::Blob(e.to_string()))
        })
    }
}

/// Blobs in an S3-compatible object store.
#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl S3Store {
    /// Settings from the `AWS_*` variables, then `options` (object_store's
    /// keys: `aws_endpoint`, `aws_allow_http`, `aws_access_key_id`, …).
    pub fn new(bucket: &str, prefix: &str, options: &[(&str, &str)]) -> Result<S3Store, Error> {
        S3Store::with_tls(bucket, prefix, options, &LinkTls::default())
    }

    /// [`S3Store::new`], an https endpoint checked against `tls`'s roots
    /// too.
    pub fn with_tls(
        bucket: &str,
        prefix: &str,
        options: &[(&str, &str)],
        tls: &LinkTls,
    ) -> Result<S3Store, Error> {
        if bucket.is_empty() {
            return Err(Error::Blob("no S3 bucket given".into()));
        }
        let mut client = object_store::ClientOptions::new();
        for root in tls.http_roots()? {
            client = client.with_root_certificate(root);
        }
        // As `AmazonS3Builder::from_env`, over client options that hold
        // the roots (the variables' client settings are laid over them).
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_client_options(client)
            .with_bucket_name(bucket);
        for (k, v) in std::env::vars_os() {
            if let (Some(k), Some(v)) = (k.to_str(), v.to_str())
                && k.starts_with("AWS_")
                && let Ok(key) = k.to_ascii_lowercase().parse()
            {
                b = b.with_config(key, v);
            }
        }
        for (k, v) in options {
            let key: object_store::aws::AmazonS3ConfigKey = k
                .parse()
                .map_err(|e| Error::Blob(format!("S3 option `{k}`: {e}")))?;
            b = b.with_config(key, *v);
        }
        let store = b
            .build()
            .map_err(|e| Error::Blob(format!("S3 bucket `{bucket}`: {e}")))?;
        Ok(S3Store {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn obj(&self, key: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }
}

impl BlobStore for S3Store {
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            // Multipart upload in chunks; the object appears when complete.
            let mut f = tokio::fs::File::open(src).await?;
            let mut w = object_store::buffered::BufWriter::new(self.store.clone(), self.obj(key));
            tokio::io::copy(&mut f, &mut w).await?;
            w.shutdown().await?;
            Ok(())
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            match self.store.head(&self.obj(key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(Error::Blob(e.to_string())),
            }
        })
    }

    fn fetch<'a>(
        &'a self,
        key: &'a str,
        tmp_dir: &'a Path,
    ) -> BoxFuture<'a, Result<LocalBlob, Error>> {
        Box::pin(async move {
            let got = self
                .store
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
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match self.store.delete(&self.obj(key)).await {
                Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                Err(e) => Err(Error::Blob(e.to_string())),
            }
        })
    }

    fn free_space(&self) -> u64 {
        0
    }

    fn list_older<'a>(
        &'a self,
        prefix: &'a str,
        before_ms: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move {
            let folder = self.obj(prefix);
            let strip = if self.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", self.prefix)
            };
            let mut out = Vec::new();
            let mut list = self.store.list(Some(&folder));
            while let Some(item) = list.next().await {
                let meta = item.map_err(|e| Error::Blob(e.to_string()))?;
                let modified = u64::try_from(meta.last_modified.timestamp_millis()).unwrap_or(0);
                if modified < before_ms
                    && let Some(key) = meta.location.as_ref().strip_prefix(&strip)
                {
                    out.push(key.to_string());
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
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

/// The cluster's blob store: any [`BlobStore`], keys checked. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Blobs(Arc<dyn BlobStore>);

impl Blobs {
    /// A handle over any backend (your own included).
    pub fn new(store: Arc<dyn BlobStore>) -> Blobs {
        Blobs(store)
    }

    /// `file:///dir` (or a plain absolute path) or `s3://bucket/prefix`
    /// (settings from the `AWS_*` variables; `AWS_ENDPOINT` and
    /// `AWS_ALLOW_HTTP=true` for a local server).
    pub fn from_url(url: &str) -> Result<Blobs, Error> {
        Blobs::from_url_tls(url, &LinkTls::default())
    }

    /// [`Blobs::from_url`], an https S3 endpoint checked with `tls`'s roots.
    pub fn from_url_tls(url: &str, tls: &LinkTls) -> Result<Blobs, Error> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return Ok(Blobs(Arc::new(S3Store::with_tls(
                bucket,
                prefix,
                &[],
                tls,
            )?)));
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if !dir.starts_with('/') {
            return Err(Error::Blob(format!(
                "blob store `{url}`: use file:///absolute/dir or s3://bucket/prefix"
            )));
        }
        Ok(Blobs(Arc::new(DirStore::new(dir)?)))
    }

    /// An [`S3Store`].
    pub fn s3(bucket: &str, prefix: &str, options: &[(&str, &str)]) -> Result<Blobs, Error> {
        Ok(Blobs(Arc::new(S3Store::new(bucket, prefix, options)?)))
    }

    /// See [`BlobStore::put_file`].
    pub async fn put_file(&self, key: &str, src: &Path) -> Result<(), Error> {
        check_key(key)?;
        self.0.put_file(key, src).await
    }

    /// See [`BlobStore::exists`].
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        check_key(key)?;
        self.0.exists(key).await
    }

    /// See [`BlobStore::fetch`].
    pub async fn fetch(&self, key: &str, tmp_dir: &Path) -> Result<LocalBlob, Error> {
        check_key(key)?;
        self.0.fetch(key, tmp_dir).await
    }

    /// See [`BlobStore::delete`].
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        check_key(key)?;
        self.0.delete(key).await
    }

    /// See [`BlobStore::free_space`].
    pub fn free_space(&self) -> u64 {
        self.0.free_space()
    }

    /// Keys under `prefix` last written before `before_ms`, at most `limit`.
    pub async fn list_older(
        &self,
        prefix: &str,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        check_key(prefix)?;
        self.0.list_older(prefix, before_ms, limit).await
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
