//! The S3 blob store against a real S3-compatible server (moto).
// Tests assert by panicking: unwrap, expect, panic and indexing are
// how they fail (the workspace denies them in library code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "support/moto.rs"]
mod moto;

use mdcluster::Blobs;
use moto::Moto;

#[tokio::test]
async fn s3_backend_round_trip_against_moto() {
    let moto = Moto::start();
    moto.bucket("mdscan-test");
    let opts = [
        ("aws_endpoint", moto.endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ];
    let blobs = Blobs::s3("mdscan-test", "some/prefix", &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Bigger than one multipart chunk, so the streaming upload path runs.
    let data: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    let src = dir.path().join("src");
    std::fs::write(&src, &data).unwrap();
    assert!(!blobs.exists("uploads/abc").await.unwrap());
    blobs.put_file("uploads/abc", &src).await.unwrap();
    assert!(blobs.exists("uploads/abc").await.unwrap());
    let local = blobs.fetch("uploads/abc", dir.path()).await.unwrap();
    assert_eq!(std::fs::read(local.path()).unwrap(), data);
    let copy = local.path().to_path_buf();
    drop(local);
    assert!(
        !copy.exists(),
        "the downloaded copy is removed with its handle"
    );
    blobs.delete("uploads/abc").await.unwrap();
    blobs.delete("uploads/abc").await.unwrap();
    assert!(!blobs.exists("uploads/abc").await.unwrap());
    assert!(blobs.fetch("uploads/abc", dir.path()).await.is_err());
    assert!(Blobs::s3("", "", &opts).is_err());
    assert!(Blobs::s3("b", "", &[("not_an_option", "x")]).is_err());
}
