//! The report: a tree with one node per object, the one output type every
//! front end (CLI, HTTP server, C API, cluster) uses. Field names are those
//! of MetaDefender Core's result document wherever one exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engines::{EngineCode, EngineInfo};
use crate::verdict::ResultCode;

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

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // Serializing this plain tree cannot fail (no maps with non-string
        // keys, no I/O); fall back to an error object rather than panic.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"err\":\"can not serialize report: {e}\"}}"))
    }
}
