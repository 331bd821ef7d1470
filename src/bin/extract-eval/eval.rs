//! Scoring extracted article bodies against gold text, exactly as the Zyte
//! article extraction benchmark does (see its README): `\w+` tokens with
//! Python's Unicode semantics, 4-token shingles as multisets, per-document
//! precision and recall, macro averages, F1 of the averages, exact-match
//! accuracy, bootstrap standard deviations.

use std::collections::HashMap;

use unicode_general_category::{GeneralCategory as G, get_general_category};

/// Python 3's `\w`: letters (L*), numbers (Nd, Nl, No) and `_`. Not marks.
fn is_word_char(c: char) -> bool {
    c == '_'
        || matches!(
            get_general_category(c),
            G::UppercaseLetter
                | G::LowercaseLetter
                | G::TitlecaseLetter
                | G::ModifierLetter
                | G::OtherLetter
                | G::DecimalNumber
                | G::LetterNumber
                | G::OtherNumber
        )
}

/// Maximal runs of word characters.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

fn shingles<'a>(tokens: &[&'a str]) -> HashMap<Vec<&'a str>, i64> {
    let mut m = HashMap::new();
    if tokens.is_empty() {
        return m;
    }
    if tokens.len() < 4 {
        *m.entry(tokens.to_vec()).or_insert(0) += 1;
        return m;
    }
    for w in tokens.windows(4) {
        *m.entry(w.to_vec()).or_insert(0) += 1;
    }
    m
}

/// One document's normalized counts and its exact-match flag.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DocScore {
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
    pub exact: bool,
}

impl DocScore {
    pub fn precision(&self) -> Option<f64> {
        if self.fp == 0.0 && self.fn_ == 0.0 && self.tp > 0.0 {
            return Some(1.0);
        }
        (self.tp + self.fp > 0.0).then(|| self.tp / (self.tp + self.fp))
    }

    pub fn recall(&self) -> Option<f64> {
        if self.fp == 0.0 && self.fn_ == 0.0 && self.tp > 0.0 {
            return Some(1.0);
        }
        (self.tp + self.fn_ > 0.0).then(|| self.tp / (self.tp + self.fn_))
    }

    /// This document's own F1 (for ranking the worst pages).
    pub fn f1(&self) -> f64 {
        let (p, r) = (
            self.precision().unwrap_or(0.0),
            self.recall().unwrap_or(0.0),
        );
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Scores one prediction against its gold text.
pub fn score_doc(truth: &str, prediction: &str) -> DocScore {
    let (t_tokens, p_tokens) = (tokens(truth), tokens(prediction));
    let (t, p) = (shingles(&t_tokens), shingles(&p_tokens));
    let mut tp = 0i64;
    let mut fp = 0i64;
    let mut fn_ = 0i64;
    for (s, &pc) in &p {
        let tc = t.get(s).copied().unwrap_or(0);
        tp += pc.min(tc);
        fp += (pc - tc).max(0);
    }
    for (s, &tc) in &t {
        let pc = p.get(s).copied().unwrap_or(0);
        fn_ += (tc - pc).max(0);
    }
    let total = (tp + fp + fn_) as f64;
    let exact = t_tokens == p_tokens;
    if total == 0.0 {
        return DocScore {
            exact,
            ..DocScore::default()
        };
    }
    DocScore {
        tp: tp as f64 / total,
        fp: fp as f64 / total,
        fn_: fn_ as f64 / total,
        exact,
    }
}

/// Dataset-level figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    pub accuracy: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Macro averages over documents, as the benchmark defines them.
pub fn aggregate(docs: &[DocScore]) -> Metrics {
    let precision = mean(docs.iter().filter_map(DocScore::precision));
    let recall = mean(docs.iter().filter_map(DocScore::recall));
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    let accuracy = mean(docs.iter().map(|d| if d.exact { 1.0 } else { 0.0 }));
    Metrics {
        f1,
        precision,
        recall,
        accuracy,
    }
}

/// Standard deviation of each metric over `rounds` bootstrap resamples
/// (a fixed-seed generator, so the figure is reproducible).
pub fn bootstrap(docs: &[DocScore], rounds: usize) -> Metrics {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let samples: Vec<Metrics> = (0..rounds)
        .map(|_| {
            let resample: Vec<DocScore> = (0..docs.len())
                .filter_map(|_| docs.get((next() % docs.len() as u64) as usize).copied())
                .collect();
            aggregate(&resample)
        })
        .collect();
    let sd = |f: fn(&Metrics) -> f64| {
        let m = mean(samples.iter().map(f));
        mean(samples.iter().map(|s| (f(s) - m).powi(2))).sqrt()
    };
    Metrics {
        f1: sd(|m| m.f1),
        precision: sd(|m| m.precision),
        recall: sd(|m| m.recall),
        accuracy: sd(|m| m.accuracy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_python_word_semantics() {
        assert_eq!(
            tokens("Erdoğan’s 330,000 police_force!"),
            vec!["Erdoğan", "s", "330", "000", "police_force"]
        );
        // Devanagari vowel signs are marks (Mc): Python's \w splits on them.
        assert_eq!(tokens("हिंदी"), vec!["ह", "द"]);
    }

    #[test]
    fn identical_texts_score_one() {
        let d = score_doc("one two three four five", "one two three four five");
        assert_eq!(
            (d.precision(), d.recall(), d.exact),
            (Some(1.0), Some(1.0), true)
        );
    }

    #[test]
    fn empty_prediction_costs_only_recall() {
        let d = score_doc("one two three four five", "");
        assert_eq!(d.precision(), None);
        assert_eq!(d.recall(), Some(0.0));
        let m = aggregate(&[d, score_doc("a b c d", "a b c d")]);
        assert_eq!(m.precision, 1.0);
        assert_eq!(m.recall, 0.5);
    }

    #[test]
    fn short_texts_make_one_shingle() {
        let d = score_doc("a b", "a b c");
        assert_eq!(d.tp, 0.0);
        assert_eq!((d.fp, d.fn_), (0.5, 0.5));
    }
}
