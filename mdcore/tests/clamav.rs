//! The ClamAV signature engine against clamscan (Debian's, 1.4): the same
//! generated signatures and files through both, the same verdicts and
//! names required. Also ClamAV's own test containers and signature files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mdcore::{ClamAvBuilder, ClamAvEngine, Digests, Engine, ObjectView};

use crate::shared::skip;
use crate::util::md5_hex;

fn fixtures() -> Option<PathBuf> {
    Some(crate::util::fixtures_with("clamav-unit-tests")?.join("clamav-unit-tests"))
}

/// The names `engine` gives `data`, sorted.
fn ours(engine: &ClamAvEngine, data: &[u8]) -> BTreeSet<String> {
    let digests = Digests::of(data);
    let file_type = mdcore::detect(data);
    let view = ObjectView {
        data,
        digests: &digests,
        file_type: &file_type,
        display_name: "x",
    };
    let r = engine.scan(&view, Duration::from_secs(60));
    assert!(r.error.is_none(), "{:?}", r.error);
    r.threats.into_iter().collect()
}

/// clamscan's names for every file in `files` (`--allmatch`), or `None`
/// when clamscan is not installed (a visible skip; a failure under CI).
/// `Err` carries clamscan's complaint when the database does not load.
fn clamscan(db: &Path, files: &Path) -> Option<Result<BTreeMap<String, BTreeSet<String>>, String>> {
    let out = match std::process::Command::new("clamscan")
        .args([
            "--no-summary",
            "--allmatch",
            "--recursive",
            "--stdout",
            "-d",
        ])
        .arg(db)
        .arg(files)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip("clamscan is not installed (Debian's clamav)");
            return None;
        }
        Err(e) => panic!("clamscan: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.code() == Some(2) {
        return Some(Err(format!(
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some((path, rest)) = line.rsplit_once(": ") else {
            continue;
        };
        let file = Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let set = found.entry(file).or_default();
        if let Some(name) = rest.strip_suffix(" FOUND") {
            set.insert(name.to_string());
        }
    }
    Some(Ok(found))
}

/// Writes the `databases` (file name, text) and the `inputs` into a fresh
/// directory, runs clamscan (`--allmatch`) and the engine over them, and
/// fails listing every file where the names differ. Returns clamscan's
/// names per file, `None` when clamscan is not installed (a visible skip).
/// `MDSCAN_KEEP_HARNESS=DIR` keeps the database and files there.
fn differential(
    databases: &[(&str, &str)],
    inputs: &[(String, Vec<u8>)],
) -> Option<BTreeMap<String, BTreeSet<String>>> {
    let dir = tempfile::tempdir().unwrap();
    let (db, files) = (dir.path().join("db"), dir.path().join("files"));
    let keep = std::env::var_os("MDSCAN_KEEP_HARNESS").map(PathBuf::from);
    if let Some(keep) = &keep {
        let _ = std::fs::remove_dir_all(keep);
    }
    for root in std::iter::once(dir.path().to_path_buf()).chain(keep) {
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::create_dir_all(root.join("files")).unwrap();
        for (name, text) in databases {
            std::fs::write(root.join("db").join(name), text).unwrap();
        }
        for (name, data) in inputs {
            std::fs::write(root.join("files").join(name), data).unwrap();
        }
    }
    let theirs = clamscan(&db, &files)?;
    let theirs = theirs.unwrap_or_else(|e| panic!("clamscan refused the database: {e}"));
    let mut b = ClamAvBuilder::new();
    b.add_path(&db).unwrap();
    let engine = b.build().unwrap();
    let mut wrong = Vec::new();
    for (name, data) in inputs {
        let want = theirs.get(name).cloned().unwrap_or_default();
        let got = ours(&engine, data);
        if want != got {
            let only_theirs: Vec<_> = want.difference(&got).collect();
            let only_ours: Vec<_> = got.difference(&want).collect();
            wrong.push(format!(
                "{name} ({:?}): only clamscan {only_theirs:?}, only mdscan {only_ours:?}",
                String::from_utf8_lossy(data)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} files disagree:\n{}",
        wrong.len(),
        inputs.len(),
        wrong.join("\n")
    );
    Some(theirs)
}

/// How many files clamscan names with their own signature (`{prefix}{i}`).
fn own_hits(
    theirs: &BTreeMap<String, BTreeSet<String>>,
    inputs: &[(String, Vec<u8>)],
    prefix: &str,
) -> usize {
    inputs
        .iter()
        .enumerate()
        .filter(|(i, (name, _))| {
            theirs
                .get(name)
                .is_some_and(|n| n.contains(&format!("{prefix}{i}.UNOFFICIAL")))
        })
        .count()
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Bytes are drawn from a four-letter alphabet, so patterns and near
/// misses meet often.
const ALPHABET: &[u8] = b"ABCD";

fn letter(r: &mut Rng) -> u8 {
    ALPHABET[r.below(4) as usize]
}

/// Bytes of an instance, each marked as a pattern byte (widened by `::w`,
/// wildcards too) or a gap's byte (which `::w` leaves alone).
type Inst = Vec<(u8, bool)>;

fn fixed(bytes: &[u8]) -> Inst {
    bytes.iter().map(|&b| (b, true)).collect()
}

fn gap_bytes(bytes: impl IntoIterator<Item = u8>) -> Inst {
    bytes.into_iter().map(|b| (b, false)).collect()
}

/// One element of a pattern: its hex text and a byte string it matches.
fn element(r: &mut Rng) -> (String, Inst) {
    let b = letter(r);
    match r.below(100) {
        0..=59 => (format!("{b:02x}"), fixed(&[b])),
        60..=67 => ("??".into(), fixed(&[letter(r)])),
        68..=72 => (format!("{:x}?", b >> 4), fixed(&[b])),
        73..=77 => (format!("?{:x}", b & 0xF), fixed(&[b])),
        78..=85 => {
            let c = letter(r);
            let pick = if r.chance(50) { b } else { c };
            (format!("({b:02x}|{c:02x})"), fixed(&[pick]))
        }
        86..=91 => {
            // Strings of one length: clamscan does not go back into an
            // alternative of several lengths once one has matched (see
            // the engine's notes), a difference this test leaves out.
            let (c, d, e) = (letter(r), letter(r), letter(r));
            let pick = if r.chance(50) { [b, c] } else { [d, e] };
            (format!("({b:02x}{c:02x}|{d:02x}{e:02x})"), fixed(&pick))
        }
        _ => {
            let c = letter(r);
            let other = *ALPHABET.iter().find(|&&x| x != b && x != c).unwrap();
            (format!("!({b:02x}|{c:02x})"), fixed(&[other]))
        }
    }
}

/// A piece between gaps: starts with two fixed bytes (clamscan wants a
/// fixed pair), `extra` more elements.
fn piece(r: &mut Rng, extra: u64) -> (String, Inst) {
    let (a, b) = (letter(r), letter(r));
    let mut hex = format!("{a:02x}{b:02x}");
    let mut bytes = fixed(&[a, b]);
    for _ in 0..extra {
        let (h, d) = element(r);
        hex += &h;
        bytes.extend(d);
    }
    (hex, bytes)
}

/// A gap's text and a length it allows.
fn gap(r: &mut Rng) -> (String, usize) {
    let n = r.below(4) as usize;
    let m = n + r.below(4) as usize;
    match r.below(5) {
        0 => (format!("{{{n}}}"), n),
        1 => (format!("{{-{m}}}"), r.below(m as u64 + 1) as usize),
        2 => (format!("{{{n}-}}"), n + r.below(4) as usize),
        3 => (
            format!("{{{n}-{m}}}"),
            n + r.below((m - n) as u64 + 1) as usize,
        ),
        _ => ("*".into(), r.below(8) as usize),
    }
}

/// A generated pattern and one instance of it; `brackets` allows the
/// anchored range `[n-m]`.
fn pattern(r: &mut Rng, brackets: bool) -> (String, Inst) {
    if brackets && r.chance(12) {
        // The anchored range: a single byte on one side of `[n-m]`.
        let extra = r.below(3);
        let (p, bytes) = piece(r, extra);
        let n = r.below(4) as usize;
        let m = n + r.below(5) as usize;
        let k = n + r.below((m - n) as u64 + 1) as usize;
        let single = letter(r);
        let filler = gap_bytes((0..k).map(|_| letter(r)).collect::<Vec<_>>());
        return if r.chance(50) {
            let mut inst = bytes;
            inst.extend(&filler);
            inst.push((single, true));
            (format!("{p}[{n}-{m}]{single:02x}"), inst)
        } else {
            let mut inst = vec![(single, true)];
            inst.extend(&filler);
            inst.extend(bytes);
            (format!("{single:02x}[{n}-{m}]{p}"), inst)
        };
    }
    let pieces = 1 + r.below(3);
    let extra = 1 + r.below(4);
    let (mut hex, mut inst) = piece(r, extra);
    for _ in 1..pieces {
        let (g, len) = gap(r);
        hex += &g;
        inst.extend(gap_bytes((0..len).map(|_| letter(r)).collect::<Vec<_>>()));
        let extra = r.below(3);
        let (p, bytes) = piece(r, extra);
        hex += &p;
        inst.extend(bytes);
    }
    (hex, inst)
}

/// An offset field for a match at `at` in `len` bytes: right, or a near
/// miss.
fn offset(r: &mut Rng, at: usize, len: usize) -> String {
    let miss = usize::from(r.chance(25));
    match r.below(6) {
        0 | 1 => "*".into(),
        2 => format!("{}", at + miss),
        3 => {
            let back = r.below(4) as usize;
            let lo = at.saturating_sub(back);
            let shift = (at - lo).saturating_sub(miss) + r.below(2) as usize * (1 - miss);
            format!("{lo},{shift}")
        }
        4 => format!("EOF-{}", len - at + miss),
        _ => {
            let n = len - at + r.below(3) as usize;
            let shift = (n - (len - at)).saturating_sub(miss);
            format!("EOF-{n},{shift}")
        }
    }
}

/// Generated `.ndb`/`.hdb`/`.hsb` signatures and files, through clamscan
/// and through the engine: the same names for every file.
#[test]
fn generated_signatures_match_as_clamscan_matches() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ndb, mut hdb, mut hsb) = (String::new(), String::new(), String::new());
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut bracketed = std::collections::HashSet::new();
    for i in 0..400 {
        let (hex, inst) = loop {
            let (hex, inst) = pattern(&mut r, true);
            let inst: Vec<u8> = inst.iter().map(|x| x.0).collect();
            // clamscan mixes up `[n-m]` signatures that differ only in the
            // range (it keeps one of them): one of each here.
            if let Some(at) = hex.find('[') {
                let end = hex.find(']').unwrap();
                if !bracketed.insert(format!("{}{}", &hex[..at], &hex[end + 1..])) {
                    continue;
                }
            }
            break (hex, inst);
        };
        let mut data: Vec<u8> = (0..r.below(24)).map(|_| letter(&mut r)).collect();
        let at = data.len();
        data.extend(&inst);
        data.extend((0..r.below(24)).map(|_| letter(&mut r)));
        let off = offset(&mut r, at, data.len());
        if r.chance(25) {
            // A near miss: one byte of the instance changed.
            let k = at + r.below(inst.len() as u64) as usize;
            data[k] = letter(&mut r);
        }
        let target = if r.chance(10) { 1 } else { 0 };
        ndb += &format!("Gen.Body-{i}:{target}:{off}:{hex}\n");
        if r.chance(15) {
            let size = if r.chance(30) {
                "*".to_string()
            } else {
                data.len().to_string()
            };
            let level = if size == "*" { ":73" } else { "" };
            match r.below(3) {
                0 if size != "*" => hdb += &format!("{}:{size}:Gen.Md5-{i}\n", md5_hex(&data)),
                1 => {
                    let sha1: String = sha1_hex(&data);
                    hsb += &format!("{sha1}:{size}:Gen.Sha1-{i}{level}\n");
                }
                _ => {
                    let sha256 = mdcore::hex(&Digests::of(&data).sha256);
                    hsb += &format!("{sha256}:{size}:Gen.Sha256-{i}{level}\n");
                }
            }
        }
        inputs.push((format!("f{i:04}.txt"), data));
    }
    let Some(theirs) = differential(
        &[("gen.ndb", &ndb), ("gen.hdb", &hdb), ("gen.hsb", &hsb)],
        &inputs,
    ) else {
        return;
    };
    let own = own_hits(&theirs, &inputs, "Gen.Body-");
    // The generator must produce both outcomes for a file's own
    // signature (a hit, a near miss), or the test proves little.
    assert!(own > 150 && own < inputs.len() - 50, "{own}");
}

/// A random logical expression over subsignatures `0..n`, each used once.
fn expression(r: &mut Rng, n: usize) -> String {
    let mut nodes: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    // Shuffle, then join neighbours until one node is left.
    for i in (1..nodes.len()).rev() {
        nodes.swap(i, r.below(i as u64 + 1) as usize);
    }
    let count = |r: &mut Rng, node: String| -> String {
        if !r.chance(30) {
            return node;
        }
        let op = ["=", ">", "<"][r.below(3) as usize];
        let x = r.below(4);
        let y = if r.chance(30) {
            format!(",{}", 1 + r.below(2))
        } else {
            String::new()
        };
        // A leaf takes no `,Y` (one signature); a group is written with
        // its parentheses already (doubled ones before a count are refused).
        if node.starts_with('(') {
            format!("{node}{op}{x}{y}")
        } else {
            format!("{node}{op}{x}")
        }
    };
    while nodes.len() > 1 {
        let k = r.below(nodes.len() as u64 - 1) as usize;
        let b = nodes.remove(k + 1);
        let a = nodes.remove(k);
        let op = if r.chance(50) { "&" } else { "|" };
        let joined = count(r, format!("({a}{op}{b})"));
        nodes.insert(k, joined);
    }
    let only = nodes.pop().unwrap();
    // One count per operand: `(0|1)=1<2` is refused (as clamscan does).
    if only.ends_with(')') || only.bytes().all(|b| b.is_ascii_digit()) {
        count(r, only)
    } else {
        only
    }
}

/// Generated `.ldb` signatures (expressions with counts, the `i`, `w`,
/// `a` and `f` modifiers) and files holding their subsignatures zero to
/// three times each, through clamscan and through the engine.
#[test]
fn generated_logical_signatures_match_as_clamscan_matches() {
    let mut r = Rng(0x51A7_E5EE_D000_0031);
    let mut ldb = String::new();
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..300 {
        let n = 1 + r.below(4) as usize;
        let mut subs = Vec::new();
        // Not text: clamscan scans a text file a second time, normalized
        // (lower case), which mdscan does not do yet.
        let mut data: Vec<u8> = vec![0, 1];
        data.extend((0..r.below(16)).map(|_| letter(&mut r)));
        for _ in 0..n {
            let (hex, inst) = pattern(&mut r, false);
            // No `::i`: clamscan's case-insensitive matching also takes
            // the letters with other bytes between them (`424141::i`
            // matches `B\x01A\x01A`), which mdscan does not (the engine's
            // notes say so).
            let (mut nocase, mut wide, mut ascii, mut word) =
                (false, r.chance(15), false, r.chance(15));
            if wide && r.chance(50) {
                ascii = true;
            }
            if r.chance(5) || hex.contains('!') {
                // clamscan refuses a negation under any modifier (the
                // shapes test checks that mdscan does too).
                (nocase, wide, ascii, word) = (false, false, false, false);
            }
            let mods: String = [(nocase, 'i'), (wide, 'w'), (ascii, 'a'), (word, 'f')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
            subs.push(if mods.is_empty() {
                hex
            } else {
                format!("{hex}::{mods}")
            });
            for _ in 0..r.below(4) {
                let as_wide = wide && !(ascii && r.chance(50));
                let mut bytes = Vec::new();
                for &(b, fixed) in &inst {
                    let b = if nocase && r.chance(50) {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    };
                    bytes.push(b);
                    if as_wide && fixed {
                        bytes.push(0);
                    }
                }
                if r.chance(20) {
                    let k = r.below(bytes.len() as u64) as usize;
                    bytes[k] = letter(&mut r);
                }
                let delimit = word && r.chance(70);
                if delimit {
                    data.push(b' ');
                }
                data.extend(bytes);
                if delimit {
                    data.push(b' ');
                }
                data.extend((0..r.below(6)).map(|_| letter(&mut r)));
            }
        }
        let expr = expression(&mut r, n);
        ldb += &format!(
            "Gen.Logical-{i};Engine:81-255,Target:0;{expr};{}\n",
            subs.join(";")
        );
        data.extend((0..r.below(16)).map(|_| letter(&mut r)));
        inputs.push((format!("l{i:04}.txt"), data));
    }
    let Some(theirs) = differential(&[("gen.ldb", &ldb)], &inputs) else {
        return;
    };
    let own = own_hits(&theirs, &inputs, "Gen.Logical-");
    assert!(own > 60 && own < inputs.len() - 60, "{own}");
}

/// Text files (mixed case, runs of whitespace, control bytes) and body
/// and logical signatures for targets 0 and 7 cut from their normalized
/// reading: clamscan scans a text file raw and normalized (lower case,
/// one space for each whitespace run), and mdscan must find the same.
#[test]
fn text_files_are_also_matched_normalized_as_clamscan_does() {
    let mut r = Rng(0x7E47_0000_0000_0007);
    let (mut ndb, mut ldb) = (String::new(), String::new());
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    // Whitespace only: which files with control bytes clamscan still
    // takes for text is not emulated (mdscan's own text detection
    // decides).
    let separators: [&[u8]; 6] = [b" ", b"  ", b"\t", b"\n", b"\r\n", b" \t "];
    for i in 0..200 {
        let mut text = Vec::new();
        for _ in 0..(4 + r.below(12)) {
            for _ in 0..(1 + r.below(6)) {
                text.push(b"abcdABCD"[r.below(8) as usize]);
            }
            text.extend(separators[r.below(6) as usize]);
        }
        // The normalized reading, as ClamAV's textnorm.c makes it.
        let mut norm = Vec::new();
        let mut space = false;
        for &c in &text {
            if matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
                if !space {
                    norm.push(b' ');
                }
                space = true;
            } else if (0x21..0x7F).contains(&c) {
                norm.push(c.to_ascii_lowercase());
                space = false;
            }
        }
        let len = 4 + r.below(6) as usize;
        let at = r.below((norm.len().saturating_sub(len) + 1) as u64) as usize;
        let mut cut: Vec<u8> = norm[at..(at + len).min(norm.len())].to_vec();
        if r.chance(20) {
            let k = r.below(cut.len() as u64) as usize;
            cut[k] = b"abcd "[r.below(5) as usize];
        }
        if r.chance(15) {
            cut.make_ascii_uppercase();
        }
        // Two fixed bytes in a row, as clamscan wants.
        if cut.windows(2).count() == 0 {
            continue;
        }
        let hex: String = cut.iter().map(|b| format!("{b:02x}")).collect();
        let target = if r.chance(50) { 0 } else { 7 };
        let offset = if r.chance(20) {
            format!("{at}")
        } else {
            "*".into()
        };
        ndb += &format!("Gen.Text-{i}:{target}:{offset}:{hex}\n");
        if r.chance(50) {
            let second: String = norm.iter().take(3).map(|b| format!("{b:02x}")).collect();
            let op = if r.chance(50) { "&" } else { "|" };
            ldb += &format!(
                "Gen.TextLogical-{i};Engine:81-255,Target:{target};0{op}1;{hex};{second}\n"
            );
        }
        inputs.push((format!("t{i:04}.txt"), text));
    }
    let Some(theirs) = differential(&[("gen.ndb", &ndb), ("gen.ldb", &ldb)], &inputs) else {
        return;
    };
    let found = theirs.values().filter(|n| !n.is_empty()).count();
    assert!(found > 100, "{found}");
}

fn sha1_hex(data: &[u8]) -> String {
    mdcore::hex(&Digests::of(data).sha1)
}

/// Lines clamscan refuses are refused, lines it loads are loaded — each
/// line alone, through both.
#[test]
fn signature_shapes_load_as_clamscan_loads_them() {
    let lines = [
        "41424344",
        "4142",
        "414243",
        "41??",
        "41??43",
        "??4142",
        "4142??",
        "*4142",
        "4142*",
        "4142*43",
        "4142*4344",
        "41{2}42",
        "4142{2}4344",
        "41{-2}424344",
        "41424344{-2}45",
        "4142{0}4344",
        "4142[1-2]43",
        "41[0-2]4243",
        "4142[1-2]4344",
        "41[1-2]42",
        "4142[0-32]43",
        "4142[0-33]43",
        "41[2-1]4243",
        "(41|42)4344",
        "(41|42)(42|43)43",
        "41(42|43)",
        "4142(43|44)",
        "41(4243|4445)",
        "41424344!(45|46)",
        "4142434(4|5)",
        "4?",
        "41424g",
        "0:EP+0:41424344",
        "1:EP+0:41424344",
        "1:EP-2,3:41424344",
        "0:S0+0:41424344",
        "1:SE0:41424344",
        "1:SL+4:41424344",
        "0:*,2:41424344",
        "0:12,2:41424344",
        "0:EOF-9,1:41424344",
        "0:x:41424344",
        "ldb:41424344!(45|46)::w",
        "ldb:41424344!(45|46)::i",
        "ldb:4142(43|44)45::wa",
        "ldb:41424344!(45|46)::f",
        "ldb:4142",
        "ldb:41??",
        "z:*:41424344",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"hello world ABCDEFGH\n").unwrap();
    let mut wrong = Vec::new();
    for l in lines {
        // `ldb:SUBSIG` is a logical signature of that one subsignature.
        let (line, db) = if let Some(sub) = l.strip_prefix("ldb:") {
            (format!("T;Target:0;0;{sub}"), dir.path().join("t.ldb"))
        } else if l.contains(':') {
            (format!("T:{l}"), dir.path().join("t.ndb"))
        } else {
            (format!("T:0:*:{l}"), dir.path().join("t.ndb"))
        };
        let _ = std::fs::remove_file(dir.path().join("t.ndb"));
        let _ = std::fs::remove_file(dir.path().join("t.ldb"));
        std::fs::write(&db, format!("{line}\n")).unwrap();
        let Some(theirs) = clamscan(&db, &file) else {
            return;
        };
        let ours = ClamAvBuilder::new().add_path(&db).map(|_| ());
        if theirs.is_ok() != ours.is_ok() {
            wrong.push(format!(
                "{line}: clamscan {}, mdscan {}",
                if theirs.is_ok() {
                    "loads it"
                } else {
                    "refuses it"
                },
                match &ours {
                    Ok(()) => "loads it".to_string(),
                    Err(e) => format!("refuses it ({e})"),
                }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// ClamAV's signed test containers load (MD5 and signature checked) and
/// one altered byte is refused; the unit tests' loose signature files load.
#[test]
fn clamav_test_containers_and_files_load() {
    let Some(dir) = fixtures() else {
        skip("the shared fixtures (clamav-unit-tests) are not here");
        return;
    };
    let fresh = dir.join("freshclam_testfiles");
    for n in 1..=6 {
        let path = fresh.join(format!("test-{n}.cvd"));
        let mut b = ClamAvBuilder::new();
        b.add_path(&path)
            .unwrap_or_else(|e| panic!("test-{n}.cvd: {e}"));
        let e = b.build().unwrap();
        let db = &e.databases()[0];
        assert_eq!(db.version, Some(n), "{db:?}");
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        let bad = tempfile::tempdir().unwrap();
        let copy = bad.path().join("test.cvd");
        std::fs::write(&copy, &data).unwrap();
        let err = ClamAvBuilder::new()
            .add_path(&copy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("MD5"), "{err}");
    }
    // test-6 holds test.ndb with three signatures, one for an older level.
    let mut b = ClamAvBuilder::new();
    b.add_path(&fresh.join("test-6.cvd")).unwrap();
    let e = b.build().unwrap();
    let db = &e.databases()[0];
    assert_eq!(db.loaded.get("ndb"), Some(&2), "{db:?}");
    assert_eq!(db.skipped.get("functionality level"), Some(&1), "{db:?}");
    assert_eq!(db.loaded.get("ldb"), Some(&1), "{db:?}");
    assert!(db.skipped.values().all(|&n| n > 0), "{db:?}");
    // Its Klez signature, official: no `.UNOFFICIAL`.
    let klez = "2d4000bd08104000e89eeaffff80bd08104000be7d2d4000e849eaffff6a00e83500000064756d6d792e65786500653a5c77696e646f77735c53795374656d33325c644c6c63616368655c6464642e65786500ff254c404000ff25544040";
    let mut sample = b"prefix ".to_vec();
    sample.extend(
        (0..klez.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&klez[i..i + 2], 16).unwrap()),
    );
    assert_eq!(
        ours(&e, &sample).into_iter().collect::<Vec<_>>(),
        ["Win.Worm.Klez-1"]
    );
    // The unit tests' loose files.
    let other = dir.join("other_sigs");
    for f in [
        "Clamav-Unit-Test-Signature.ndb",
        "alz.hdb",
        "zstd.hdb",
        "logo.hsb",
    ] {
        let mut b = ClamAvBuilder::new();
        b.add_path(&other.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(b.build().unwrap().databases()[0].loaded_total() > 0, "{f}");
    }
    let mut b = ClamAvBuilder::new();
    b.add_path(&other.join("Clamav-Unit-Test-Signature.ndb"))
        .unwrap();
    let e = b.build().unwrap();
    assert_eq!(
        ours(&e, b"CLAMAV-TEST-STRING-NOT-EICAR at offset 0")
            .into_iter()
            .collect::<Vec<_>>(),
        ["NDB.Clamav-Unit-Test-Signature.UNOFFICIAL"]
    );
}

/// The engine in a scanner sees inside containers: a zip member carrying
/// a body signature is named by it.
#[test]
fn the_engine_scans_inside_archives() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("local.ndb");
    std::fs::write(&db, "Local.Test-1:0:*:6d6473636e2d636c616d61762d74657374\n").unwrap();
    let scanner = mdcore::ScannerBuilder::new()
        .default_rules(false)
        .clamav_database(&db)
        .build()
        .unwrap();
    let zip = crate::util::zip_of(&[("a/b.txt", b"...mdscn-clamav-test...")]);
    let report = scanner.scan_bytes(&zip, &mdcore::ScanOptions::new().name("t.zip"));
    assert_eq!(report.root.scan_all_result_i, mdcore::ResultCode::Infected);
    let member = report
        .root
        .iter()
        .find(|n| n.display_name == "t.zip/a/b.txt")
        .unwrap();
    assert_eq!(
        member.scan_details["ClamAV"].threat_found,
        "Local.Test-1.UNOFFICIAL"
    );
    assert!(scanner.engines().iter().any(|e| e.id == "clamav"));
}
