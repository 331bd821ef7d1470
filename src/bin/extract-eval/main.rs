//! Measures the extractor on a benchmark of HTML pages with gold article
//! bodies (the Zyte article extraction benchmark's layout):
//!
//!     extract-eval DIR GROUND_TRUTH.json [--write-predictions OUT.json] [--worst N]
//!     extract-eval --score PREDICTIONS.json GROUND_TRUTH.json
//!     extract-eval --wcxb DIR [--worst N] [--predictions P.json] [--show ID]
//!                  [--write-predictions OUT.json]
//!     extract-eval --explain PAGE.html[.gz]
//!     extract-eval --passages DIR [--worst N] [--predictions P.json] [--show URL]
//!                  [--write-predictions OUT.json]
//!
//! DIR holds `<id>.html.gz` (or `<id>.html`) files; the ground truth maps
//! each id to `{"articleBody": ..., "url": ...}`. Extraction runs on one
//! thread; parse time is included in pages/s.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use newsledger::config::ExtractOverrides;
use newsledger::extract::{self};
use serde_json::Value;

mod eval;
mod passages;
mod wcxb;

fn usage() -> ExitCode {
    eprintln!(
        "usage: extract-eval DIR GROUND_TRUTH.json [--write-predictions OUT.json] [--worst N] | extract-eval --score PREDICTIONS.json GROUND_TRUTH.json"
    );
    ExitCode::from(2)
}

fn load_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `{id: {"articleBody": ...}}`, unwrapping `{"output": {...}}` prediction files.
fn bodies(v: &Value) -> BTreeMap<String, String> {
    let map = v.get("output").unwrap_or(v);
    map.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.get("articleBody")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `{id: url}` from a ground-truth file.
fn urls_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v["url"].as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn read_page(dir: &Path, id: &str) -> Result<Vec<u8>, String> {
    let gz = dir.join(format!("{id}.html.gz"));
    if gz.exists() {
        let file = std::fs::File::open(&gz).map_err(|e| format!("{}: {e}", gz.display()))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: {e}", gz.display()))?;
        return Ok(out);
    }
    let plain = dir.join(format!("{id}.html"));
    std::fs::read(&plain).map_err(|e| format!("{}: {e}", plain.display()))
}

fn report(
    truth: &BTreeMap<String, String>,
    predictions: &BTreeMap<String, String>,
    urls: &BTreeMap<String, String>,
    worst: usize,
) {
    let scored: Vec<(String, eval::DocScore)> = truth
        .iter()
        .map(|(id, gold)| {
            (
                id.clone(),
                eval::score_doc(gold, predictions.get(id).map_or("", String::as_str)),
            )
        })
        .collect();
    let docs: Vec<eval::DocScore> = scored.iter().map(|(_, d)| *d).collect();
    let m = eval::aggregate(&docs);
    let sd = eval::bootstrap(&docs, 1000);
    let empty = truth
        .keys()
        .filter(|id| {
            predictions
                .get(*id)
                .is_none_or(|p| eval::tokens(p).is_empty())
        })
        .count();
    println!("pages:     {}", docs.len());
    println!("F1:        {:.3} ± {:.3}", m.f1, sd.f1);
    println!("precision: {:.3} ± {:.3}", m.precision, sd.precision);
    println!("recall:    {:.3} ± {:.3}", m.recall, sd.recall);
    println!("accuracy:  {:.3} ± {:.3}", m.accuracy, sd.accuracy);
    println!("empty:     {empty} pages with no text extracted");
    if worst > 0 {
        let mut ranked = scored.clone();
        ranked.sort_by(|a, b| a.1.f1().total_cmp(&b.1.f1()));
        println!("\nworst {worst} pages (F1, precision, recall, id, url):");
        for (id, d) in ranked.iter().take(worst) {
            println!(
                "  {:.3}  P {:.3}  R {:.3}  {}  {}",
                d.f1(),
                d.precision().unwrap_or(0.0),
                d.recall().unwrap_or(0.0),
                // Zyte ids are 64 hex digits: their first 12 name a page.
                id.get(..12).unwrap_or(id),
                urls.get(id).map_or("", String::as_str)
            );
        }
    }
}

/// Prints, for each extraction pass, the best candidates (path, score,
/// evidence, text and link density) and the roots chosen: why a block won.
fn explain(html: &str) {
    use extract::content::{self, Classes, PASSES, Stats};
    use extract::dom::{Dom, NodeRef};
    let doc = Dom::from_tree(extract::tree::parse_stripped(
        html,
        extract::prefilter::RAW_ELEMENTS,
    ));
    let path = |n: NodeRef<'_>| {
        let mut parts: Vec<String> = std::iter::once(n)
            .chain(n.ancestors())
            .filter_map(|a| a.element())
            .map(|e| {
                let mut s = e.name().to_string();
                if let Some(id) = e.attribute("id") {
                    s.push('#');
                    s.push_str(id);
                }
                if let Some(c) = e.attribute("class") {
                    s.push('.');
                    s.push_str(&c.split_whitespace().take(2).collect::<Vec<_>>().join("."));
                }
                s
            })
            .collect();
        parts.truncate(7);
        parts.reverse();
        parts.join(" > ")
    };
    let classes = Classes::of(&doc);
    let ignored = content::IdSet::default();
    for pass in PASSES {
        let removed = content::prune_junk(&doc, &classes, &ignored, pass);
        let stats = Stats::compute(doc.root(), &removed);
        let scores = content::score(doc.root(), &stats, &classes);
        let mut ranked: Vec<_> = scores.iter().collect();
        ranked.sort_by(|a, b| b.1.total.total_cmp(&a.1.total));
        println!("pass {pass:?}:");
        for (id, s) in ranked.iter().take(8) {
            let Some(n) = doc.get(**id) else { continue };
            let st = stats.get(**id);
            println!(
                "  {:7.1} ev {:6.1} text {:6} ld {:.2}  {}",
                s.total,
                s.evidence,
                st.text,
                st.link_density(),
                path(n)
            );
        }
        let roots = content::pick(&doc, &scores, &stats);
        for r in roots {
            println!("  -> {}", path(r));
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The value after `--name`, if given.
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.first().map(String::as_str) == Some("--explain") {
        let Some(path) = args.get(1) else {
            return usage();
        };
        let path = Path::new(path);
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let id = id.trim_end_matches(".gz").trim_end_matches(".html");
        return match read_page(path.parent().unwrap_or(Path::new(".")), id) {
            Ok(bytes) => {
                let html = extract::decode(&bytes, None);
                explain(&html);
                let a = extract::extract(&html, None, &ExtractOverrides::default());
                println!("\n{}", a.text);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.first().map(String::as_str) == Some("--passages") {
        let Some(dir) = args.get(1) else {
            return usage();
        };
        let worst = flag("--worst").and_then(|w| w.parse().ok()).unwrap_or(20);
        let predictions = match flag("--predictions").map(|p| load_json(Path::new(&p))) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let (show, write) = (flag("--show"), flag("--write-predictions"));
        return passages::run(
            Path::new(dir),
            worst,
            predictions,
            show.as_deref(),
            write.as_deref(),
        );
    }
    if args.first().map(String::as_str) == Some("--wcxb") {
        let Some(dir) = args.get(1) else {
            return usage();
        };
        let worst = flag("--worst").and_then(|w| w.parse().ok()).unwrap_or(10);
        let predictions = match args.iter().position(|a| a == "--predictions") {
            None => None,
            Some(i) => match args.get(i + 1).map(|p| load_json(Path::new(p))) {
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
                None => return usage(),
            },
        };
        let (show, write) = (flag("--show"), flag("--write-predictions"));
        return wcxb::run(
            Path::new(dir),
            worst,
            predictions,
            show.as_deref(),
            write.as_deref(),
        );
    }
    let positional: Vec<&String> = {
        let mut out = Vec::new();
        let mut skip = false;
        for a in &args {
            if skip {
                skip = false;
            } else if a.starts_with("--") {
                skip = true;
            } else {
                out.push(a);
            }
        }
        out
    };
    let worst: usize = flag("--worst").and_then(|w| w.parse().ok()).unwrap_or(20);
    if let Some(pred) = flag("--score") {
        let Some(gt) = positional.first() else {
            return usage();
        };
        let (p, t) = match (load_json(Path::new(&pred)), load_json(Path::new(gt))) {
            (Ok(p), Ok(t)) => (p, t),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let urls = urls_of(&t);
        report(&bodies(&t), &bodies(&p), &urls, worst);
        return ExitCode::SUCCESS;
    }
    let [dir, gt] = positional[..] else {
        return usage();
    };
    let truth_json = match load_json(Path::new(gt)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let truth = bodies(&truth_json);
    let urls = urls_of(&truth_json);
    let dir = PathBuf::from(dir);
    let mut pages = Vec::new();
    for id in truth.keys() {
        match read_page(&dir, id) {
            Ok(bytes) => pages.push((id.clone(), bytes)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    let t0 = Instant::now();
    let overrides = ExtractOverrides::default();
    let predictions: BTreeMap<String, String> = pages
        .iter()
        .map(|(id, body)| {
            let html = extract::decode(body, None);
            let a = extract::extract(&html, urls.get(id).map(String::as_str), &overrides);
            (id.clone(), a.text)
        })
        .collect();
    let secs = t0.elapsed().as_secs_f64();
    report(&truth, &predictions, &urls, worst);
    println!(
        "\nspeed:     {:.1} pages/s, {:.1} MB/s, {:.2} ms/page (one thread, parse included)",
        pages.len() as f64 / secs,
        bytes as f64 / 1e6 / secs,
        secs * 1000.0 / pages.len() as f64
    );
    println!("extractor: {}", extract::EXTRACTOR_VERSION);
    if let Some(out) = flag("--write-predictions") {
        let v: serde_json::Map<String, Value> = predictions
            .into_iter()
            .map(|(k, t)| (k, serde_json::json!({ "articleBody": t })))
            .collect();
        if let Err(e) = std::fs::write(&out, serde_json::to_string(&v).unwrap_or_default()) {
            eprintln!("error: {out}: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::SUCCESS
}
