//! "Did you mean …?" suggestions for misspelled keys, values and names, used
//! by the decoder and by other crates (for example for unknown receiver
//! names).

/// Returns the candidate closest to `name`: one that differs only in case, or
/// else the nearest within two edits (one edit for names shorter than four
/// characters; transpositions count as one edit). Ties go to the earlier
/// candidate; `name` itself is never suggested.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().filter(|c| *c != name).collect();
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return Some(same);
    }
    let lower = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 2).min(2);
    candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|&(d, _)| d > 0 && d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// [`closest`] over a slice.
pub(crate) fn suggest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    closest(name, candidates.iter().copied())
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// Formats names as a list for hints: `` `a`, `b` or `c` ``.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &[
        "maxEventAgeSeconds",
        "throttlePeriod",
        "logLevel",
        "tls",
        "ttl",
    ];

    #[test]
    fn suggests_near_misses_and_case_differences() {
        assert_eq!(
            suggest("maxEventAgeSecond", KEYS),
            Some("maxEventAgeSeconds")
        );
        assert_eq!(
            suggest("MaxEventAgeSeconds", KEYS),
            Some("maxEventAgeSeconds")
        );
        assert_eq!(suggest("loglevel", KEYS), Some("logLevel"));
        assert_eq!(suggest("logLevle", KEYS), Some("logLevel"));
        assert_eq!(suggest("tsl", KEYS), Some("tls"));
        assert_eq!(suggest("something", KEYS), None);
        assert_eq!(suggest("logLevel", KEYS), None);
    }

    #[test]
    fn closest_accepts_any_iterator() {
        let names = ["dump".to_owned(), "alert".to_owned()];
        assert_eq!(
            closest("alret", names.iter().map(String::as_str)),
            Some("alert")
        );
        assert_eq!(closest("dump", names.iter().map(String::as_str)), None);
        assert_eq!(closest("pager", names.iter().map(String::as_str)), None);
    }

    #[test]
    fn distance_counts_transpositions_once() {
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn formats_lists() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
