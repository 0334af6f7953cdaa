//! "Did you mean ...?": the nearest of a few known words to a misspelt one.

/// The candidate nearest to `word` by edit distance (ignoring case), if it is close enough to be
/// a likely misspelling: at most two edits, and no more than a third of the word.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2 && *d * 3 <= word.chars().count().max(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
