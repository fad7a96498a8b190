//! The split hook and `Report::graft`: children scanned apart (as a cluster
//! does) and put back give the report of one whole scan.

use std::sync::{Arc, Mutex};

use mdcore::{Node, Origin, Report, ResultCode, ScanOptions};

use crate::util::*;

/// The parts of a node that must not depend on where it was scanned.
fn shape(n: &Node) -> Vec<(String, u32, String, ResultCode, ResultCode, usize)> {
    n.iter()
        .map(|n| {
            (
                n.display_name.clone(),
                n.depth,
                n.sha256.clone(),
                n.own_result_i,
                n.scan_all_result_i,
                n.scan_details.len(),
            )
        })
        .collect()
}

fn sample() -> Vec<u8> {
    let inner = zip_of(&[("eicar.com", EICAR), ("clean.txt", b"hello")]);
    // Distinct content throughout: a whole scan examines a repeated object
    // once (the later copies carry the first one's result and no
    // children), which scans in separate processes can not share.
    let other = zip_of(&[("clean2.txt", b"other"), ("eicar2.com", EICAR)]);
    let tgz = gz(&tar_of(&[("a.txt", b"alpha"), ("b.zip", &other)]));
    zip_of(&[
        ("readme.txt", b"just text"),
        ("inner.zip", &inner),
        ("bundle.tar.gz", &tgz),
        ("notes.md", b"# notes"),
    ])
}

#[test]
fn split_children_grafted_back_match_a_whole_scan() {
    let s = scanner();
    let data = sample();
    let whole = s.scan_bytes(&data, &ScanOptions::new().name("top.zip"));

    // (token, name, bytes) of every child handed out.
    type Taken = Vec<(String, String, Vec<u8>)>;
    let taken: Arc<Mutex<Taken>> = Arc::default();
    let t = taken.clone();
    let opts = ScanOptions::new().name("top.zip").split(move |c| {
        // Keep one child local, hand the others out.
        if c.name == "notes.md" {
            return None;
        }
        let token = format!("t{}", c.name);
        t.lock()
            .unwrap()
            .push((token.clone(), c.name.to_string(), c.data.to_vec()));
        Some(token)
    });
    let mut parent = s.scan_bytes(&data, &opts);
    let tokens = parent.remote();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert_eq!(parent.verdict(), ResultCode::InProgress);
    let placeholder = parent
        .root
        .children
        .iter()
        .find(|c| c.remote.is_some())
        .unwrap();
    assert_eq!(placeholder.own_result_i, ResultCode::InProgress);

    for (token, name, bytes) in taken.lock().unwrap().drain(..) {
        let origin = Origin {
            parent_display: parent.root.display_name.clone(),
            depth: 1,
            ancestors: vec![parent.root.sha256.clone()],
            root_size: data.len() as u64,
        };
        let child = s.scan_bytes(&bytes, &ScanOptions::new().name(name).origin(origin));
        assert!(parent.graft(&token, child));
    }
    assert!(parent.remote().is_empty());
    assert!(!parent.graft("tnone", Report::unscanned("x", ResultCode::Failed, "x")));
    assert_eq!(parent.verdict(), whole.verdict());
    assert_eq!(parent.verdict(), ResultCode::Infected);
    assert_eq!(parent.objects, whole.objects);
    assert_eq!(parent.bytes_extracted, whole.bytes_extracted);
    assert_eq!(shape(&parent.root), shape(&whole.root));
    assert_eq!(threat_paths(&parent), threat_paths(&whole));
}

#[test]
fn a_split_child_keeps_the_recursive_archive_check() {
    // A child identical to an ancestor named in its origin is not opened again.
    let s = scanner();
    let inner = zip_of(&[("x.txt", b"x")]);
    let origin = Origin {
        parent_display: "top.zip".into(),
        depth: 1,
        ancestors: vec![scan(&inner, "i.zip").root.sha256.clone()],
        root_size: 10,
    };
    let r = s.scan_bytes(&inner, &ScanOptions::new().name("i.zip").origin(origin));
    assert_eq!(r.root.display_name, "top.zip/i.zip");
    assert_eq!(r.root.depth, 1);
    assert_eq!(r.root.own_result_i, ResultCode::ExceededArchiveDepth);
    assert!(r.root.children.is_empty());
}

#[test]
fn split_only_offers_direct_children_with_data() {
    let s = scanner();
    let data = sample();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let t = seen.clone();
    let opts = ScanOptions::new().name("top.zip").split(move |c| {
        t.lock().unwrap().push(c.display_name.to_string());
        None
    });
    let r = s.scan_bytes(&data, &opts);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "top.zip/bundle.tar.gz",
            "top.zip/inner.zip",
            "top.zip/notes.md",
            "top.zip/readme.txt"
        ]
    );
    assert!(r.remote().is_empty());
    assert_eq!(r.verdict(), ResultCode::Infected);
}
