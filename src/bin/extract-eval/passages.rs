//! The passage benchmark of trafilatura's multilingual evaluation corpus
//! (`../shared/datasets/trafilatura-eval-dev`): each page lists passages
//! its main text must contain (`with`) and passages it must not
//! (`without`). Scoring follows the corpus's README: whitespace runs become
//! one space in the text and in each passage; a `with` passage found is a
//! true positive, one missing a false negative; a `without` passage found
//! is a false positive, one missing a true negative; counts are summed over
//! pages. A page of at least two `with` passages none of which is found has
//! lost its main text.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use std::process::ExitCode;
use std::time::Instant;

use newsledger::config::ExtractOverrides;
use newsledger::extract::{self};

use crate::explain;

/// One page of the corpus, its bytes as collected.
pub struct Page {
    /// The page's URL as the corpus keys it (a few are not URLs).
    pub url: String,
    pub file: String,
    pub with: Vec<String>,
    pub without: Vec<String>,
    pub html: Vec<u8>,
}

impl Page {
    /// The group a page is reported in: the country code of its host when
    /// it has one (`de`, `pl`, …), else `generic` (`.com`, `.org`, no URL).
    pub fn group(&self) -> String {
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        match host.rsplit('.').next() {
            Some(tld) if tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_lowercase()) => {
                tld.to_string()
            }
            _ => "generic".to_string(),
        }
    }

    /// The URL to give the extractor (`None` for the corpus's non-URL keys).
    pub fn base(&self) -> Option<&str> {
        url::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|_| self.url.as_str())
    }
}

/// Loads `evaldata-dev.json` and every page it names from `html/FILE.gz`.
pub fn load(dir: &Path) -> Result<Vec<Page>, String> {
    let index = dir.join("evaldata-dev.json");
    let text = std::fs::read_to_string(&index).map_err(|e| format!("{}: {e}", index.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", index.display()))?;
    let Some(map) = v.as_object() else {
        return Err(format!("{}: not a JSON object", index.display()));
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut pages = Vec::with_capacity(map.len());
    for (url, entry) in map {
        let file = entry["file"]
            .as_str()
            .ok_or_else(|| format!("{}: {url} has no \"file\"", index.display()))?;
        let path = dir.join("html").join(format!("{file}.gz"));
        let mut html = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| flate2::read::GzDecoder::new(f).read_to_end(&mut html))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        pages.push(Page {
            url: url.clone(),
            file: file.to_string(),
            with: strings(&entry["with"]),
            without: strings(&entry["without"]),
            html,
        });
    }
    Ok(pages)
}

/// Whitespace runs (Python's `\s`) to one space, trimmed.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Passage counts of one page or of many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub tp: usize,
    pub fn_: usize,
    pub fp: usize,
    pub tn: usize,
}

impl Count {
    pub fn add(&mut self, o: Count) {
        self.tp += o.tp;
        self.fn_ += o.fn_;
        self.fp += o.fp;
        self.tn += o.tn;
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Scores one page's extracted text.
pub fn score(page: &Page, text: &str) -> Count {
    let text = normalize(text);
    let found = |p: &String| text.contains(&normalize(p));
    let hits = page.with.iter().filter(|p| found(p)).count();
    let leaks = page.without.iter().filter(|p| found(p)).count();
    Count {
        tp: hits,
        fn_: page.with.len() - hits,
        fp: leaks,
        tn: page.without.len() - leaks,
    }
}

/// Whether a page scored `c` lost its main text.
pub fn lost(page: &Page, c: Count) -> bool {
    page.with.len() >= 2 && c.tp == 0
}

/// `{url: text}` or `{url: {"text": ...}}` predictions of another extractor.
pub fn predictions(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let t = v
                        .as_str()
                        .or_else(|| v["text"].as_str())
                        .unwrap_or_default();
                    (k.clone(), t.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `extract-eval --passages DIR`: the passage benchmark (trafilatura's
/// multilingual corpus): precision, recall, F1 and accuracy over all
/// passages, per country of the host, and every page that lost its main
/// text. With `--predictions`, another extractor's `{url: text}` is scored
/// instead of ours.
pub fn run(
    dir: &Path,
    worst: usize,
    predictions: Option<Value>,
    show: Option<&str>,
    write: Option<&str>,
) -> ExitCode {
    let pages = match load(dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let overrides = ExtractOverrides::default();
    let ours = |page: &Page| {
        let html = extract::decode(&page.html, None);
        extract::extract(&html, page.base(), &overrides)
    };
    if let Some(key) = show {
        let Some(page) = pages.iter().find(|p| p.url == key || p.file == key) else {
            eprintln!("error: no page {key} (give its URL or file name)");
            return ExitCode::from(2);
        };
        let a = ours(page);
        println!("{}\n{:?}\n", page.url, score(page, &a.text));
        explain(&extract::decode(&page.html, None));
        println!("\n{}", a.text);
        return ExitCode::SUCCESS;
    }
    let t0 = Instant::now();
    let mut weak: Vec<Option<extract::Weakness>> = Vec::new();
    let texts: Vec<String> = match &predictions {
        None => pages
            .iter()
            .map(|p| {
                let a = ours(p);
                weak.push(a.weak);
                a.text
            })
            .collect(),
        Some(v) => {
            let p = self::predictions(v);
            pages
                .iter()
                .map(|page| p.get(&page.url).cloned().unwrap_or_default())
                .collect()
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let counts: Vec<Count> = pages.iter().zip(&texts).map(|(p, t)| score(p, t)).collect();
    let line = |label: &str, n: usize, c: &Count, lost: usize| {
        println!(
            "  {label:<8} {n:>4} pages  P {:.3}  R {:.3}  F1 {:.3}  accuracy {:.3}  lost {lost}",
            c.precision(),
            c.recall(),
            c.f1(),
            c.accuracy()
        );
    };
    let mut total = Count::default();
    let mut groups: BTreeMap<String, (usize, Count, usize)> = BTreeMap::new();
    let mut lost = Vec::new();
    for (page, c) in pages.iter().zip(&counts) {
        total.add(*c);
        let is_lost = self::lost(page, *c);
        let g = groups.entry(page.group()).or_default();
        g.0 += 1;
        g.1.add(*c);
        g.2 += usize::from(is_lost);
        if is_lost {
            lost.push(page);
        }
    }
    println!("pages:     {}", pages.len());
    println!("precision: {:.3}", total.precision());
    println!("recall:    {:.3}", total.recall());
    println!("F1:        {:.3}", total.f1());
    println!("accuracy:  {:.3}", total.accuracy());
    println!(
        "passages:  {} found, {} missed, {} leaked, {} kept out (F1 {:.5})",
        total.tp,
        total.fn_,
        total.fp,
        total.tn,
        total.f1()
    );
    println!("lost:      {} pages without their main text", lost.len());
    println!("\nper country of the host (ccTLD; generic: .com, .org, …):");
    let mut small = (0, Count::default(), 0);
    for (g, (n, c, l)) in &groups {
        if *n >= 5 || g == "generic" {
            line(g, *n, c, *l);
        } else {
            small.0 += n;
            small.1.add(*c);
            small.2 += l;
        }
    }
    line("others", small.0, &small.1, small.2);
    line("all", pages.len(), &total, lost.len());
    if !lost.is_empty() {
        println!("\npages without their main text:");
        for p in &lost {
            println!("  {}  ({})", p.url, p.file);
        }
    }
    if worst > 0 {
        let mut ranked: Vec<(usize, &Page, &Count)> = pages
            .iter()
            .zip(&counts)
            .map(|(p, c)| (c.fn_ + c.fp, p, c))
            .filter(|(bad, _, _)| *bad > 0)
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.url.cmp(&b.1.url)));
        println!("\nworst {worst} pages (missed with, leaked without, url):");
        for (_, p, c) in ranked.iter().take(worst) {
            println!(
                "  {}/{}  {}/{}  {}",
                c.fn_,
                p.with.len(),
                c.fp,
                p.without.len(),
                p.url
            );
        }
    }
    if predictions.is_none() {
        // How well the doubt signal tells lost pages from the others.
        let lost_set: std::collections::HashSet<&str> =
            lost.iter().map(|p| p.url.as_str()).collect();
        let (mut flagged_lost, mut flagged_ok) = (0, 0);
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for (page, w) in pages.iter().zip(&weak) {
            if let Some(w) = w {
                *reasons.entry(w.as_str()).or_default() += 1;
                if lost_set.contains(page.url.as_str()) {
                    flagged_lost += 1;
                } else {
                    flagged_ok += 1;
                }
            }
        }
        println!(
            "\nweak:      {} of {} lost pages flagged weak; {} of {} other pages flagged ({reasons:?})",
            flagged_lost,
            lost.len(),
            flagged_ok,
            pages.len() - lost.len()
        );
        println!(
            "\nspeed:     {:.1} pages/s (one thread, decoding and parsing included)",
            pages.len() as f64 / secs
        );
        println!("extractor: {}", extract::EXTRACTOR_VERSION);
    }
    if let Some(out) = write {
        let v: serde_json::Map<String, Value> = pages
            .iter()
            .zip(texts)
            .map(|(p, t)| (p.url.clone(), Value::String(t)))
            .collect();
        if let Err(e) = std::fs::write(out, serde_json::to_string(&v).unwrap_or_default()) {
            eprintln!("error: {out}: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(with: &[&str], without: &[&str]) -> Page {
        Page {
            url: "https://www.example.de/a".into(),
            file: "a.html".into(),
            with: with.iter().map(|s| s.to_string()).collect(),
            without: without.iter().map(|s| s.to_string()).collect(),
            html: Vec::new(),
        }
    }

    #[test]
    fn passages_match_across_whitespace_and_count_as_the_readme_says() {
        let p = page(&["eins  zwei\ndrei", "fehlt"], &["Menü", "Impressum"]);
        let c = score(&p, "vorher eins zwei\u{a0}drei nachher\n\nMenü");
        assert_eq!(
            c,
            Count {
                tp: 1,
                fn_: 1,
                fp: 1,
                tn: 1
            }
        );
        assert!((c.precision() - 0.5).abs() < 1e-9);
        assert!((c.accuracy() - 0.5).abs() < 1e-9);
        assert!(!lost(&p, c));
        assert!(lost(&p, score(&p, "nichts davon")));
        // One `with` passage is too few to call a page lost.
        let one = page(&["a b"], &[]);
        assert!(!lost(&one, score(&one, "")));
    }

    #[test]
    fn groups_are_country_codes_or_generic() {
        let mut p = page(&[], &[]);
        assert_eq!(p.group(), "de");
        p.url = "https://news.example.com/x".into();
        assert_eq!(p.group(), "generic");
        p.url = "hard::bahamaslocal.com-atlantis.html".into();
        assert_eq!(p.group(), "generic");
        assert_eq!(p.base(), None);
    }
}
