//! CVSS base scores from vector strings, for feed records that give a
//! vector (OSV's `severity: [{"type": "CVSS_V3", "score": "CVSS:3.1/..."}]`)
//! but no severity word: version 3.0/3.1 (FIRST's specification, section
//! 7 and appendix A's round-up) and version 2 (NVD's formula). Scores are
//! in tenths (9.8 is 98).

/// The base score of a CVSS 3.x vector, in tenths; `None` when a base
/// metric is missing or unknown.
pub(crate) fn v3(vector: &str) -> Option<u16> {
    let mut parts = vector.trim().split('/');
    if !parts.next()?.starts_with("CVSS:3.") {
        return None;
    }
    let (mut av, mut ac, mut pr, mut ui, mut s, mut c, mut i, mut a) =
        (None, None, None, None, None, None, None, None);
    for p in parts {
        let (k, v) = p.split_once(':')?;
        match k {
            "AV" => {
                av = Some(pick(
                    v,
                    &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)],
                )?)
            }
            "AC" => ac = Some(pick(v, &[("L", 0.77), ("H", 0.44)])?),
            "PR" => pr = Some(v),
            "UI" => ui = Some(pick(v, &[("N", 0.85), ("R", 0.62)])?),
            "S" => s = Some(pick(v, &[("U", 0.0), ("C", 1.0)])? > 0.5),
            "C" => c = Some(cia(v)?),
            "I" => i = Some(cia(v)?),
            "A" => a = Some(cia(v)?),
            _ => {}
        }
    }
    let changed = s?;
    let pr = match (pr?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let iss = 1.0 - (1.0 - c?) * (1.0 - i?) * (1.0 - a?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av? * ac? * pr * ui?;
    if impact <= 0.0 {
        return Some(0);
    }
    let base = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(round_up(base))
}

/// The base score of a CVSS 2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`), in
/// tenths.
pub(crate) fn v2(vector: &str) -> Option<u16> {
    let vector = vector.trim().trim_start_matches('(').trim_end_matches(')');
    let (mut av, mut ac, mut au, mut c, mut i, mut a) = (None, None, None, None, None, None);
    let impact_of = |v: &str| pick(v, &[("N", 0.0), ("P", 0.275), ("C", 0.660)]);
    for p in vector.split('/') {
        let (k, v) = p.split_once(':')?;
        match k {
            "AV" => av = Some(pick(v, &[("L", 0.395), ("A", 0.646), ("N", 1.0)])?),
            "AC" => ac = Some(pick(v, &[("H", 0.35), ("M", 0.61), ("L", 0.71)])?),
            "Au" => au = Some(pick(v, &[("M", 0.45), ("S", 0.56), ("N", 0.704)])?),
            "C" => c = Some(impact_of(v)?),
            "I" => i = Some(impact_of(v)?),
            "A" => a = Some(impact_of(v)?),
            _ => {}
        }
    }
    let impact = 10.41 * (1.0 - (1.0 - c?) * (1.0 - i?) * (1.0 - a?));
    let exploitability = 20.0 * av? * ac? * au?;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let base = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f;
    Some((base.max(0.0) * 10.0).round() as u16)
}

/// The severity word for a score in tenths (CVSS 3's rating scale; 0 is
/// `NONE`).
pub(crate) fn rating(tenths: u16) -> &'static str {
    match tenths {
        0 => "NONE",
        1..=39 => "LOW",
        40..=69 => "MEDIUM",
        70..=89 => "HIGH",
        _ => "CRITICAL",
    }
}

fn pick(v: &str, table: &[(&str, f64)]) -> Option<f64> {
    table.iter().find(|(k, _)| *k == v).map(|(_, x)| *x)
}

fn cia(v: &str) -> Option<f64> {
    pick(v, &[("H", 0.56), ("L", 0.22), ("N", 0.0)])
}

/// CVSS 3.1's Roundup: the smallest number of one decimal at least the
/// input, computed on integers so that 4.000001 does not become 4.1 by a
/// float error.
fn round_up(x: f64) -> u16 {
    let int = (x * 100_000.0).round() as u64;
    let tenths = if int.is_multiple_of(10_000) {
        int / 10_000
    } else {
        int / 10_000 + 1
    };
    u16::try_from(tenths).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_published_vectors() {
        // Scores as NVD's calculator gives them.
        for (vector, want) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 98),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 100),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 61),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 55),
            ("CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 20),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 99),
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 65),
        ] {
            assert_eq!(v3(vector), Some(want), "{vector}");
        }
        assert_eq!(v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"), None);
        assert_eq!(v3("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), None);
        assert_eq!(v3("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N"), None);
        for (vector, want) in [
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 75),
            ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 100),
            ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 43),
            ("AV:L/AC:L/Au:N/C:C/I:C/A:C", 72),
        ] {
            assert_eq!(v2(vector), Some(want), "{vector}");
        }
        assert_eq!(rating(98), "CRITICAL");
        assert_eq!(rating(75), "HIGH");
        assert_eq!(rating(43), "MEDIUM");
        assert_eq!(rating(20), "LOW");
        assert_eq!(rating(0), "NONE");
    }
}
