//! Splits extraction time into its stages over a directory of `.html.gz`
//! pages: `cargo run --release --example parse_cost -- DIR`.
use std::io::Read;
use std::time::Instant;

use newsledger::extract::{self, content, metadata, prefilter};

fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let mut pages = Vec::new();
    for e in std::fs::read_dir(&dir).expect("dir") {
        let p = e.expect("entry").path();
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&p).expect("open"))
            .read_to_string(&mut s)
            .ok();
        pages.push(s);
    }
    let n = pages.len() as f64;
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3 / n;
    let t = Instant::now();
    let stripped: Vec<String> = pages.iter().map(|p| prefilter::strip(p)).collect();
    let strip_ms = ms(t);
    let t = Instant::now();
    let docs: Vec<scraper::Html> = stripped
        .iter()
        .map(|p| scraper::Html::parse_document(p))
        .collect();
    let parse_ms = ms(t);
    let t = Instant::now();
    for d in &docs {
        std::hint::black_box(metadata::read(d));
    }
    let meta_ms = ms(t);
    let t = Instant::now();
    for d in &docs {
        std::hint::black_box(content::find(d, &[], content::PASSES[0]));
    }
    let find_ms = ms(t);
    let t = Instant::now();
    drop(docs);
    let drop_ms = ms(t);
    let t = Instant::now();
    for p in &pages {
        std::hint::black_box(extract::extract(p, None, &Default::default()));
    }
    let all_ms = ms(t);
    println!(
        "per page: prefilter {strip_ms:.2} ms, parse {parse_ms:.2}, metadata {meta_ms:.2}, content pass 1 {find_ms:.2}, drop {drop_ms:.2}; full extract {all_ms:.2} ms"
    );
}
