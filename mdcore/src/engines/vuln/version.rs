//! Version order across ecosystems, loosely: numbers compare as numbers,
//! words as words, and a word right after the last shared part marks a
//! pre-release (`1.4.2rc1` < `1.4.2` < `1.4.2.1`). A Debian epoch
//! (`1:2.3`) counts first. Good enough for Maven, PyPI, npm (semver),
//! Debian and RPM version strings and Windows file versions.

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Num(u64),
    Word(&'a str),
}

fn parts(v: &str) -> (u64, Vec<Part<'_>>) {
    let v = v.trim().trim_start_matches(['v', 'V']);
    // Build metadata (semver `+…`) does not order.
    let v = v.split_once('+').map_or(v, |(a, _)| a);
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, v),
    };
    let mut out = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let n = rest
                .get(start..i)
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            out.push(Part::Num(n));
        } else if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
            }
            out.push(Part::Word(rest.get(start..i).unwrap_or_default()));
        } else {
            i += 1;
        }
    }
    (epoch, out)
}

/// Orders two version strings.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ea, pa) = parts(a);
    let (eb, pb) = parts(b);
    if ea != eb {
        return ea.cmp(&eb);
    }
    let mut i = 0;
    loop {
        match (pa.get(i), pb.get(i)) {
            (None, None) => return Ordering::Equal,
            // `1.4.2` against `1.4.2rc1`: a word next is a pre-release
            // (smaller), a number next is a later version (greater).
            (None, Some(Part::Word(w))) => return release_vs(w).reverse(),
            (Some(Part::Word(w)), None) => return release_vs(w),
            // Missing numbers count as 0 (`2.15` is `2.15.0`).
            (None, Some(Part::Num(0))) | (Some(Part::Num(0)), None) => i += 1,
            (None, Some(Part::Num(_))) => return Ordering::Less,
            (Some(Part::Num(_)), None) => return Ordering::Greater,
            (Some(Part::Num(x)), Some(Part::Num(y))) if x != y => return x.cmp(y),
            (Some(Part::Word(x)), Some(Part::Word(y))) if !x.eq_ignore_ascii_case(y) => {
                return x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
            }
            // A number sorts after a word (`1.0.1` > `1.0.beta`).
            (Some(Part::Num(_)), Some(Part::Word(_))) => return Ordering::Greater,
            (Some(Part::Word(_)), Some(Part::Num(_))) => return Ordering::Less,
            _ => i += 1,
        }
    }
}

/// How a version ending in word `w` compares with the same version
/// without it: pre-release words sort before the release, others (`final`,
/// `ga`, patch letters) after.
fn release_vs(w: &str) -> Ordering {
    let w = w.to_ascii_lowercase();
    if matches!(
        w.as_str(),
        "final" | "ga" | "release" | "r" | "p" | "post" | "pl" | "sp"
    ) {
        Ordering::Greater
    } else {
        Ordering::Less
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_the_usual_schemes() {
        let lt = |a: &str, b: &str| {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        };
        lt("1.4.1", "1.4.2");
        lt("1.4.2rc1", "1.4.2");
        lt("1.4.2", "1.4.2.1");
        lt("1.9", "1.10");
        lt("2.14.1", "2.15.0");
        lt("2.0-beta9", "2.0");
        lt("2.0-beta9", "2.0-rc1");
        lt("1.0.0-alpha", "1.0.0");
        lt("1.2.3", "1:0.1");
        lt("24.06", "24.07");
        lt("1.0", "1.0.post1");
        assert_eq!(compare("1.0.0", "v1.0.0+build5"), Ordering::Equal);
        assert_eq!(compare("2.15", "2.15.0"), Ordering::Equal);
        assert_eq!(compare("3.1.9.0", "3.1.9.0"), Ordering::Equal);
    }
}
