//! The report: a tree with one node per object, the one output type every
//! front end (CLI, HTTP server, C API, cluster) uses. Field names are those
//! of MetaDefender Core's result document wherever one exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engines::{EngineCode, EngineInfo};
use crate::verdict::ResultCode;

pub(crate) use crate::errors::BUG_NOTE;

/// One engine's result on one object (an entry of `scan_details`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineDetail {
    /// The engine's code (0, 1, 2, 3, 10, 19, 22 or 23).
    pub scan_result_i: EngineCode,
    /// Threat names, comma-separated; empty when nothing was found.
    pub threat_found: String,
    /// Milliseconds this engine spent on this object.
    pub scan_time: u64,
    /// The engine's definitions time.
    pub def_time: String,
    /// The engine's id.
    pub eng_id: String,
}

/// One object of the scanned tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Path from the root: `outer.zip/inner.tar/file.exe`.
    pub display_name: String,
    /// The object's own name: the root's name, or the (sanitized) entry name
    /// inside its parent.
    pub name: String,
    /// Nesting level; the root is 0.
    pub depth: u32,
    /// Bytes examined (for a member cut by a limit, what was produced).
    pub file_size: u64,
    /// MIME type.
    pub file_type: String,
    /// Human description of the type.
    pub file_type_description: String,
    /// Hex MD5 (empty when no bytes could be produced).
    pub md5: String,
    /// Hex SHA-1.
    pub sha1: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Overall code: this object and everything inside it, worst first.
    pub scan_all_result_i: ResultCode,
    /// The string for `scan_all_result_i`.
    pub scan_all_result_a: String,
    /// This object's own code, before its children are rolled up.
    pub own_result_i: ResultCode,
    /// Per-engine results, keyed by engine display name.
    pub scan_details: BTreeMap<String, EngineDetail>,
    /// What happened that a reader should know: damage, limits, passwords.
    pub notes: Vec<String>,
    /// Extracted objects, in archive order.
    pub children: Vec<Node>,
    /// Set on a placeholder for a child handed to the
    /// [`ScanOptions::split`](crate::ScanOptions::split) hook: the hook's
    /// token, until [`Report::graft`] puts the child's report here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Known-vulnerable software found in this object (its own code is
    /// then 18, Potentially Vulnerable File).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<crate::engines::vuln::Finding>,
}

impl Node {
    pub(crate) fn new(name: String, display_name: String, depth: u32) -> Node {
        Node {
            display_name,
            name,
            depth,
            file_size: 0,
            file_type: String::new(),
            file_type_description: String::new(),
            md5: String::new(),
            sha1: String::new(),
            sha256: String::new(),
            scan_all_result_i: ResultCode::NoThreat,
            scan_all_result_a: ResultCode::NoThreat.as_str().into(),
            own_result_i: ResultCode::NoThreat,
            scan_details: BTreeMap::new(),
            notes: Vec::new(),
            children: Vec::new(),
            remote: None,
            vulnerabilities: Vec::new(),
        }
    }

    /// Engines that examined this object.
    pub fn scanned_with(&self) -> usize {
        self.scan_details.len()
    }

    /// Engines that flagged this object.
    pub fn detected_by(&self) -> usize {
        self.scan_details
            .values()
            .filter(|d| d.scan_result_i.is_detection())
            .count()
    }

    /// This node and every node below it, depth first, parents before children.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let n = stack.pop()?;
            stack.extend(n.children.iter().rev());
            Some(n)
        })
    }

    /// Recomputes `scan_all_result_*` from `own_result_i` and the children
    /// (whose own overall codes are taken as they are).
    pub fn roll_up(&mut self) {
        let code = crate::verdict::roll_up(
            std::iter::once(self.own_result_i)
                .chain(self.children.iter().map(|c| c.scan_all_result_i)),
        );
        self.set_overall(code);
    }

    pub(crate) fn set_overall(&mut self, code: ResultCode) {
        self.scan_all_result_i = code;
        self.scan_all_result_a = code.as_str().into();
    }
}

/// Notes kept per node by [`Report::cap`].
const MAX_NOTES: usize = 64;

/// Cuts `s` to at most about `max` bytes, keeping its start and end (on
/// character boundaries) around a marker.
fn clip(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let half = max / 2;
    let mut head = half;
    while head > 0 && !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len().saturating_sub(half);
    while tail < s.len() && !s.is_char_boundary(tail) {
        tail += 1;
    }
    let cut = tail.saturating_sub(head);
    let end = s.get(tail..).unwrap_or_default().to_string();
    s.truncate(head);
    s.push_str(&format!("[…{cut} bytes…]"));
    s.push_str(&end);
}

/// A detection anywhere in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// Path of the object.
    pub display_name: String,
    /// Engine display name.
    pub engine: String,
    /// Threat name.
    pub threat: String,
}

/// The result of scanning one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The root object and everything extracted from it.
    pub root: Node,
    /// Objects in the tree, root included.
    pub objects: u64,
    /// Bytes produced by decoders for this tree.
    pub bytes_extracted: u64,
    /// When the scan started (ISO 8601 UTC).
    pub start_time: String,
    /// Wall-clock milliseconds.
    pub total_time: u64,
    /// The engines that ran.
    pub engines: Vec<EngineInfo>,
    /// What sanitizing the input came to, when a policy asked for it (set
    /// by whoever sanitizes: the server's workers, `mdscan scan
    /// --sanitize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitization: Option<Record>,
}

impl Report {
    /// The report of an input that could not be scanned at all (unreadable,
    /// no workflow, a crashed scan): one root node carrying `code` and why.
    pub fn unscanned(name: &str, code: ResultCode, why: &str) -> Report {
        let mut root = Node::new(name.into(), name.into(), 0);
        root.scan_all_result_i = code;
        root.scan_all_result_a = code.as_str().into();
        root.own_result_i = code;
        root.notes.push(why.into());
        Report {
            root,
            objects: 1,
            bytes_extracted: 0,
            start_time: String::new(),
            total_time: 0,
            engines: Vec::new(),
            sanitization: None,
        }
    }

    /// Tokens of the placeholders still waiting for [`Report::graft`].
    pub fn remote(&self) -> Vec<String> {
        self.root.iter().filter_map(|n| n.remote.clone()).collect()
    }

    /// Puts `child` (the report of a child scanned elsewhere with the
    /// matching [`Origin`](crate::Origin)) in place of the placeholder
    /// carrying `token`, and recomputes the codes, object count and bytes
    /// above it. `false` when no placeholder has that token.
    pub fn graft(&mut self, token: &str, child: Report) -> bool {
        fn place(node: &mut Node, token: &str, child: &mut Option<Node>) -> bool {
            for c in &mut node.children {
                if c.remote.as_deref() == Some(token) {
                    if let Some(new) = child.take() {
                        *c = new;
                    }
                    node.roll_up();
                    return true;
                }
                if place(c, token, child) {
                    node.roll_up();
                    return true;
                }
            }
            false
        }
        let extracted = child.bytes_extracted;
        let mut new = Some(child.root);
        if !place(&mut self.root, token, &mut new) {
            return false;
        }
        self.bytes_extracted = self.bytes_extracted.saturating_add(extracted);
        self.objects = self.root.iter().count() as u64;
        true
    }

    /// The first note in the tree about a panic mdcore contained (a
    /// decoder, extractor or engine crashed on an object, which is then
    /// Failed, code 3), as `display_name: note`; `None` when there was none.
    /// The scan itself survives such a bug, so only this tells it from
    /// damage in the input.
    pub fn contained_crash(&self) -> Option<String> {
        self.root.iter().find_map(|n| {
            n.notes
                .iter()
                .find(|note| note.ends_with(BUG_NOTE))
                .map(|note| format!("{}: {note}", n.display_name))
        })
    }

    /// The overall code.
    pub fn verdict(&self) -> ResultCode {
        self.root.scan_all_result_i
    }

    /// Every detection in the tree, in tree order.
    pub fn threats(&self) -> Vec<Detection> {
        let mut out = Vec::new();
        for n in self.root.iter() {
            for (engine, d) in &n.scan_details {
                if !d.scan_result_i.is_detection() {
                    continue;
                }
                for t in d.threat_found.split(", ").filter(|t| !t.is_empty()) {
                    out.push(Detection {
                        display_name: n.display_name.clone(),
                        engine: engine.clone(),
                        threat: t.to_string(),
                    });
                }
            }
        }
        out
    }

    /// Whether mdscan's default, fail-closed policy blocks this input: a
    /// detection, or anything not fully examined
    /// ([`crate::DEFAULT_BLOCK_CODES`]).
    pub fn blocked(&self) -> bool {
        self.verdict().blocks_by_default()
    }

    /// Ends every placeholder still waiting for [`Report::graft`] as
    /// Failed (code 3, which blocks) with `why` as a note, and rolls the
    /// codes up again. For a fanned-out scan whose children were lost.
    /// Returns how many placeholders there were.
    pub fn fail_remote(&mut self, why: &str) -> usize {
        fn walk(node: &mut Node, why: &str) -> usize {
            let mut n = 0;
            if node.remote.take().is_some() {
                node.own_result_i = ResultCode::Failed;
                node.notes.push(why.to_string());
                n += 1;
            }
            for c in &mut node.children {
                n += walk(c, why);
            }
            node.roll_up();
            n
        }
        walk(&mut self.root, why)
    }

    /// Shrinks the report for storage where values have a size limit: every
    /// name, note and threat string longer than `max_text` bytes is cut in
    /// the middle, and the tree keeps at most `max_nodes` nodes. The nodes
    /// kept are, in this order: placeholders and their ancestors (so
    /// [`Report::graft`] still works), nodes whose overall code is not
    /// "No threat" (top levels first), then the rest, top levels first.
    /// A node that lost children says how many in a note; every code stays
    /// as it was (a dropped object's verdict is already rolled into its
    /// parent's). `objects` and `bytes_extracted` are not changed. Returns
    /// how many nodes were dropped.
    pub fn cap(&mut self, max_nodes: usize, max_text: usize) -> u64 {
        fn clip_all(n: &mut Node, max_text: usize) {
            clip(&mut n.display_name, max_text);
            clip(&mut n.name, max_text);
            clip(&mut n.file_type_description, max_text);
            n.notes.truncate(MAX_NOTES);
            for note in &mut n.notes {
                clip(note, max_text);
            }
            for d in n.scan_details.values_mut() {
                clip(&mut d.threat_found, max_text);
            }
            for c in &mut n.children {
                clip_all(c, max_text);
            }
        }
        clip_all(&mut self.root, max_text);
        // Pre-order view of the tree: parent, subtree size, priority.
        struct Flat {
            parent: usize,
            depth: u32,
            size: usize,
            must: bool,
            wanted: bool,
        }
        let mut flat: Vec<Flat> = Vec::new();
        let mut stack: Vec<(&Node, usize)> = vec![(&self.root, usize::MAX)];
        while let Some((n, parent)) = stack.pop() {
            let me = flat.len();
            flat.push(Flat {
                parent,
                depth: n.depth,
                size: 1,
                must: n.remote.is_some(),
                wanted: n.scan_all_result_i != ResultCode::NoThreat,
            });
            for c in n.children.iter().rev() {
                stack.push((c, me));
            }
        }
        if flat.len() <= max_nodes {
            return 0;
        }
        // Subtree sizes and "a placeholder is below" flags, children first.
        for i in (1..flat.len()).rev() {
            let (size, must, parent) = match flat.get(i) {
                Some(f) => (f.size, f.must, f.parent),
                None => continue,
            };
            if let Some(p) = flat.get_mut(parent) {
                p.size += size;
                p.must |= must;
            }
        }
        let mut keep = vec![false; flat.len()];
        if let Some(k) = keep.first_mut() {
            *k = true;
        }
        // Top levels first: pre-order indexes ordered by depth.
        let mut order: Vec<usize> = (1..flat.len()).collect();
        order.sort_by_key(|&i| flat.get(i).map_or(u32::MAX, |f| f.depth));
        for (k, f) in keep.iter_mut().zip(&flat) {
            *k |= f.must;
        }
        let mut kept = keep.iter().filter(|k| **k).count();
        for pass in 0..2 {
            for &i in &order {
                if kept >= max_nodes {
                    break;
                }
                let Some(f) = flat.get(i) else { continue };
                let parent_kept = keep.get(f.parent).copied().unwrap_or(false);
                let already = keep.get(i).copied().unwrap_or(true);
                if already || !parent_kept || (pass == 0 && !f.wanted) {
                    continue;
                }
                if let Some(k) = keep.get_mut(i) {
                    *k = true;
                    kept += 1;
                }
            }
        }
        fn prune(
            node: &mut Node,
            next: &mut usize,
            flat: &[usize],
            keep: &[bool],
            max: usize,
        ) -> u64 {
            *next += 1;
            let mut dropped_here = 0u64;
            let mut dropped = 0u64;
            let old = std::mem::take(&mut node.children);
            for mut c in old {
                let id = *next;
                if keep.get(id).copied().unwrap_or(false) {
                    dropped += prune(&mut c, next, flat, keep, max);
                    node.children.push(c);
                } else {
                    let size = flat.get(id).copied().unwrap_or(1);
                    *next += size;
                    dropped_here += size as u64;
                }
            }
            if dropped_here > 0 {
                node.notes.push(format!(
                    "{dropped_here} extracted object(s) below this one are not listed: the stored \
                     report keeps at most {max} objects. They were examined, and their results \
                     count in this object's overall result"
                ));
            }
            dropped + dropped_here
        }
        let sizes: Vec<usize> = flat.iter().map(|f| f.size).collect();
        let mut next = 0usize;
        prune(&mut self.root, &mut next, &sizes, &keep, max_nodes)
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // Serializing this plain tree cannot fail (no maps with non-string
        // keys, no I/O); fall back to an error object rather than panic.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"err\":\"can not serialize report: {e}\"}}"))
    }
}

/// One kind of object acted on, in MetaDefender's `sanitization_details`
/// form: `{"action": "removed", "object_name": "macro", "count": 1,
/// "object_details": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// `removed` or `sanitized`.
    pub action: String,
    /// The kind of object (`macro`, `ActiveX`, `OLE`, `DDE`, ...).
    pub object_name: String,
    /// How many were acted on.
    pub count: u32,
    /// What each one was (part names, link targets), at most
    /// [`MAX_OBJECT_DETAILS`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_details: Vec<String>,
}

/// Object details kept per [`Detail`].
pub const MAX_OBJECT_DETAILS: usize = 50;

/// What sanitizing a scanned file came to, as its report keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The copy's type (`docx`); empty when it failed.
    pub converted_to: String,
    /// The copy's SHA-256 (lower-case hex), where it is stored; empty when
    /// it failed.
    pub sha256: String,
    /// The copy's size in bytes.
    pub size: u64,
    /// What was acted on.
    pub details: Vec<Detail>,
    /// Why there is no copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The copy's own scan result (a copy is scanned before it is
    /// offered; one that still blocks, or was not scanned, is not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_result: Option<crate::ResultCode>,
}

impl Record {
    /// A sanitization that made no copy.
    pub fn failed(why: impl Into<String>) -> Record {
        Record {
            converted_to: String::new(),
            sha256: String::new(),
            size: 0,
            details: Vec::new(),
            failure: Some(why.into()),
            copy_result: None,
        }
    }
}

/// MetaDefender's `process_info.post_processing` object for a file whose
/// sanitization came to `record` (`None`: it was not sanitized), the copy
/// named `destination` (a path or a file name). The one rendering of it:
/// the server's result documents, `mdscan sanitize --json`, `mdscan scan
/// --sanitize` and the C API all use this.
pub fn post_processing(record: Option<&Record>, destination: &str) -> serde_json::Value {
    match record.map(|r| (r, &r.failure)) {
        None => serde_json::json!({
            "actions_ran": "",
            "actions_failed": "",
            "converted_to": "",
            "converted_destination": "",
            "copy_move_destination": "",
        }),
        Some((r, None)) => serde_json::json!({
            "actions_ran": "Sanitized",
            "actions_failed": "",
            "converted_to": r.converted_to,
            "converted_destination": destination,
            "copy_move_destination": "",
            "sanitization_details": {
                "description": "Sanitized successfully.",
                "details": r.details,
            },
        }),
        Some((_, Some(why))) => serde_json::json!({
            "actions_ran": "",
            "actions_failed": "Sanitization Failed",
            "converted_to": "",
            "converted_destination": "",
            "copy_move_destination": "",
            "sanitization_details": {"description": why, "details": []},
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(children: usize, name_len: usize) -> Report {
        let mut r = Report::unscanned("root.zip", ResultCode::NoThreat, "root");
        for i in 0..children {
            let name = format!("{i:06}-{}", "n".repeat(name_len));
            let mut c = Node::new(name.clone(), format!("root.zip/{name}"), 1);
            c.md5 = format!("{i:032x}");
            r.root.children.push(c);
        }
        r.objects = children as u64 + 1;
        r
    }

    #[test]
    fn cap_keeps_detections_and_codes_and_says_what_it_dropped() {
        let mut r = tree(1000, 10);
        r.root.children[777].own_result_i = ResultCode::Infected;
        r.root.children[777].roll_up();
        r.root.children[778].remote = Some("tok".into());
        r.root.children[778].own_result_i = ResultCode::InProgress;
        r.root.children[778].roll_up();
        r.root.roll_up();
        let verdict = r.verdict();
        let dropped = r.cap(10, 4096);
        assert_eq!(dropped, 991);
        assert_eq!(r.root.children.len(), 9);
        assert_eq!(r.verdict(), verdict);
        assert_eq!(r.objects, 1001, "the object count stays what was examined");
        assert!(
            r.root
                .children
                .iter()
                .any(|c| c.md5 == format!("{:032x}", 777))
        );
        assert_eq!(r.remote(), vec!["tok".to_string()]);
        assert!(
            r.root
                .notes
                .iter()
                .any(|n| n.contains("991 extracted object"))
        );
        // Nothing to drop: nothing changes.
        let mut small = tree(5, 10);
        let before = small.clone();
        assert_eq!(small.cap(10, 4096), 0);
        assert_eq!(small, before);
    }

    #[test]
    fn cap_cuts_long_names_on_character_boundaries() {
        let mut r = tree(2, 10_000);
        r.root.children[0].name = "é".repeat(5000);
        r.cap(100, 1000);
        for n in r.root.iter() {
            assert!(n.name.len() < 1100, "{}", n.name.len());
            assert!(n.display_name.len() < 1100);
        }
        assert!(r.root.children[0].name.contains("bytes…]"));
        assert!(r.root.children[1].name.starts_with("000001-"));
    }

    #[test]
    fn fail_remote_blocks_the_lost_children() {
        let mut r = tree(3, 1);
        r.root.children[1].remote = Some("lost".into());
        r.root.children[1].own_result_i = ResultCode::InProgress;
        r.root.roll_up();
        assert_eq!(r.fail_remote("the child task was lost"), 1);
        assert!(r.remote().is_empty());
        assert_eq!(r.verdict(), ResultCode::Failed);
        assert!(r.blocked());
        assert_eq!(r.root.children[1].notes, vec!["the child task was lost"]);
    }
}
