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
use newsledger::extract::{self, metadata};
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

/// `extract-eval --wcxb DIR [--worst N] [--show ID] [--write-predictions OUT]`: body F1 per page type with the
/// benchmark's rule, article pages that extract under 20 % of their gold
/// words, metadata accuracy per field, each per domain fold.
fn wcxb(
    dir: &Path,
    worst: usize,
    predictions: Option<Value>,
    show: Option<&str>,
    write: Option<&str>,
) -> ExitCode {
    let pages = match wcxb::load(dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(id) = show {
        let Some(page) = pages.iter().find(|p| p.id == id) else {
            eprintln!("no page {id} in {}", dir.display());
            return ExitCode::from(2);
        };
        let a = wcxb::extract_page(page);
        println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
        println!(
            "header lines (^ above the headline, H headline, T <time>, A author link, B author box):"
        );
        for line in metadata::header_lines(&extract::decode(&page.html, None)) {
            println!("  {line}");
        }
        println!(
            "gold: title {:?} author {:?} date {:?}",
            page.title, page.author, page.date
        );
        return ExitCode::SUCCESS;
    }
    if let Some(out) = write {
        let mut all = serde_json::Map::new();
        for page in &pages {
            let a = wcxb::extract_page(page);
            all.insert(
                page.id.clone(),
                serde_json::json!({"text": a.text, "title": a.title, "author": a.byline, "date": a.published}),
            );
        }
        let json = serde_json::to_string(&Value::Object(all)).unwrap_or_default();
        if let Err(e) = std::fs::write(out, json) {
            eprintln!("{out}: {e}");
            return ExitCode::from(2);
        }
    }
    let t0 = Instant::now();
    let scored: Vec<wcxb::Scored> = match &predictions {
        None => pages.iter().map(wcxb::score).collect(),
        Some(p) => pages
            .iter()
            .map(|page| wcxb::score_prediction(page, p.get(&page.id).unwrap_or(&Value::Null)))
            .collect(),
    };
    let secs = t0.elapsed().as_secs_f64();
    let mean = |v: &[&wcxb::Scored]| v.iter().map(|s| s.f1).sum::<f64>() / v.len().max(1) as f64;
    let mut types: Vec<&str> = scored.iter().map(|s| s.page_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    println!(
        "body word F1 (the benchmark's evaluate.py rule), {} pages:",
        scored.len()
    );
    for t in &types {
        let v: Vec<&wcxb::Scored> = scored.iter().filter(|s| s.page_type == *t).collect();
        println!("  {t:<14} {:>4} pages  F1 {:.3}", v.len(), mean(&v));
    }
    let all: Vec<&wcxb::Scored> = scored.iter().collect();
    println!(
        "  {:<14} {:>4} pages  F1 {:.3}",
        "all",
        all.len(),
        mean(&all)
    );
    let articles: Vec<&wcxb::Scored> = scored.iter().filter(|s| s.page_type == "article").collect();
    print!("  article F1 per domain fold:");
    for f in 0..5 {
        let v: Vec<&wcxb::Scored> = articles.iter().copied().filter(|s| s.fold == f).collect();
        print!(" {f}: {:.3} ({})", mean(&v), v.len());
    }
    println!();
    let starved: Vec<&&wcxb::Scored> = articles
        .iter()
        .filter(|s| s.gold_words >= 100 && s.recall < 0.2)
        .collect();
    println!(
        "  article pages with >= 100 gold words extracting < 20 % of them: {}",
        starved.len()
    );
    for s in starved.iter().take(worst) {
        println!(
            "    {} recall {:.2} ({} gold words)",
            s.id, s.recall, s.gold_words
        );
    }
    println!("metadata accuracy (pages with a gold value):");
    let fields: [(&str, wcxb::Field); 3] = [
        ("title", |s| s.title),
        ("author", |s| s.author),
        ("date", |s| s.date),
    ];
    for (name, f) in fields {
        let (acc, n) = wcxb::accuracy(&all, f);
        let (aacc, an) = wcxb::accuracy(&articles, f);
        print!("  {name:<7} all {acc:.3} ({n})  articles {aacc:.3} ({an})  folds:");
        for k in 0..5 {
            let v: Vec<&wcxb::Scored> = all.iter().copied().filter(|s| s.fold == k).collect();
            print!(" {:.3}", wcxb::accuracy(&v, f).0);
        }
        print!("  article folds:");
        for k in 0..5 {
            let v: Vec<&wcxb::Scored> = articles.iter().copied().filter(|s| s.fold == k).collect();
            print!(" {:.3}", wcxb::accuracy(&v, f).0);
        }
        println!();
    }
    let (t, n) = wcxb::accuracy(&articles, |s| s.title_punctuation);
    println!(
        "  (article pages whose title differs from the gold only in typographic quotes or dashes: {t:.3} of {n})"
    );
    let (m, n) = wcxb::accuracy(&articles, |s| s.date_is_modified);
    println!(
        "  (article pages whose gold date is our `modified`, not our `published`: {:.3} of {n})",
        m
    );
    if worst > 0 {
        for (i, (name, f)) in fields.iter().enumerate() {
            println!("  wrong {name}, first {worst}:");
            let gold = |p: &wcxb::Page| match i {
                0 => p.title.clone(),
                1 => p.author.clone(),
                _ => p.date.clone(),
            };
            for (s, p) in scored
                .iter()
                .zip(&pages)
                .filter(|(s, _)| f(s) == Some(false))
                .take(worst)
            {
                println!(
                    "    {} gold {:?} got {:?}",
                    s.id,
                    gold(p).unwrap_or_default(),
                    s.got.get(i).cloned().flatten().unwrap_or_default()
                );
            }
        }
    }
    if predictions.is_none() {
        println!(
            "speed: {:.1} pages/s (one thread, parse included)",
            scored.len() as f64 / secs
        );
    }
    ExitCode::SUCCESS
}

/// `extract-eval --passages DIR`: the passage benchmark (trafilatura's
/// multilingual corpus): precision, recall, F1 and accuracy over all
/// passages, per country of the host, and every page that lost its main
/// text. With `--predictions`, another extractor's `{url: text}` is scored
/// instead of ours.
fn passages_eval(
    dir: &Path,
    worst: usize,
    predictions: Option<Value>,
    show: Option<&str>,
    write: Option<&str>,
) -> ExitCode {
    let pages = match passages::load(dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let overrides = ExtractOverrides::default();
    let ours = |page: &passages::Page| {
        let html = extract::decode(&page.html, None);
        extract::extract(&html, page.base(), &overrides)
    };
    if let Some(key) = show {
        let Some(page) = pages.iter().find(|p| p.url == key || p.file == key) else {
            eprintln!("error: no page {key} (give its URL or file name)");
            return ExitCode::from(2);
        };
        let a = ours(page);
        println!("{}\n{:?}\n", page.url, passages::score(page, &a.text));
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
            let p = passages::predictions(v);
            pages
                .iter()
                .map(|page| p.get(&page.url).cloned().unwrap_or_default())
                .collect()
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let counts: Vec<passages::Count> = pages
        .iter()
        .zip(&texts)
        .map(|(p, t)| passages::score(p, t))
        .collect();
    let line = |label: &str, n: usize, c: &passages::Count, lost: usize| {
        println!(
            "  {label:<8} {n:>4} pages  P {:.3}  R {:.3}  F1 {:.3}  accuracy {:.3}  lost {lost}",
            c.precision(),
            c.recall(),
            c.f1(),
            c.accuracy()
        );
    };
    let mut total = passages::Count::default();
    let mut groups: BTreeMap<String, (usize, passages::Count, usize)> = BTreeMap::new();
    let mut lost = Vec::new();
    for (page, c) in pages.iter().zip(&counts) {
        total.add(*c);
        let is_lost = passages::lost(page, *c);
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
    let mut small = (0, passages::Count::default(), 0);
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
        let mut ranked: Vec<(usize, &passages::Page, &passages::Count)> = pages
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
        return passages_eval(
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
        return wcxb(
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
