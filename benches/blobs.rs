//! Blob storage: zstd level against speed and size on realistic captures
//! (the ingest benchmark's pages, 60–200 KB, with HTTP headers) and on
//! article texts, and what a one-sentence edit costs stored as a delta
//! against the previous revision. Prints Markdown tables; the level in
//! `ledger::blobs::ZSTD_LEVEL` is chosen from them.
//!
//!     cargo bench --bench blobs

#[path = "support/pages.rs"]
mod pages;

use std::time::Instant;

use newsledger::demo::site;
use newsledger::ledger::blobs;

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let seeds = site::seeds();
    let mut rng = pages::Rng(0x9e37_79b9_7f4a_7c15);
    let captures: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let target = 60_000 + (rng.next() % 140_000) as usize;
            let body = pages::page(&seeds[i % seeds.len()], &format!("http://127.0.2.1/a/{i}/"), i as u64, &mut rng, target - 20_000);
            format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {}\r\nETag: \"{i:x}-abc\"\r\n\r\n{body}", body.len()).into_bytes()
        })
        .collect();
    let texts: Vec<Vec<u8>> = seeds
        .iter()
        .map(|s| serde_json::to_vec(&serde_json::json!({"title": s.title, "text": s.expected_text(), "byline": s.byline})).expect("json"))
        .collect();
    let raw_total: usize = captures.iter().map(Vec::len).sum();
    let text_total: usize = texts.iter().map(Vec::len).sum();
    println!(
        "| zstd level | captures MB/s (one core) | captures stored | texts stored | decompress MB/s |\n| --- | --- | --- | --- | --- |"
    );
    for level in [-1, 1, 3, 6, 9, 12, 19] {
        let t0 = Instant::now();
        let packed: Vec<Vec<u8>> = captures
            .iter()
            .map(|c| zstd::bulk::compress(c, level).expect("zstd"))
            .collect();
        let secs = t0.elapsed().as_secs_f64();
        let stored: usize = packed.iter().map(Vec::len).sum();
        let t1 = Instant::now();
        for (p, c) in packed.iter().zip(&captures) {
            let back = zstd::bulk::decompress(p, c.len()).expect("unzstd");
            assert_eq!(back.len(), c.len());
        }
        let dsecs = t1.elapsed().as_secs_f64();
        let tstored: usize = texts
            .iter()
            .map(|t| zstd::bulk::compress(t, level).expect("zstd").len())
            .sum();
        println!(
            "| {level}{} | {:.0} | {:.1} % ({:.1} KB per capture) | {:.1} % | {:.0} |",
            if level == blobs::ZSTD_LEVEL {
                " (chosen)"
            } else {
                ""
            },
            raw_total as f64 / 1e6 / secs,
            100.0 * stored as f64 / raw_total as f64,
            stored as f64 / captures.len() as f64 / 1000.0,
            100.0 * tstored as f64 / text_total as f64,
            raw_total as f64 / 1e6 / dsecs,
        );
    }

    // A one-sentence edit of each capture (and of each text), stored as a
    // delta against the previous revision, at the chosen level.
    let sentence = "The ministry later said the figures had been revised after an internal review.";
    // The edited page is fetched on a later visit: the site's chrome (view
    // counter, "recent news", ad slot, date) changed too, as on real sites.
    let mut raw_delta = Vec::new();
    let mut raw_whole = Vec::new();
    let mut t_delta = 0.0;
    for i in 0..200usize {
        let mut seed = seeds[i % seeds.len()].clone();
        let url = format!("http://127.0.2.1/a/{i}/");
        let target = 40_000 + (i * 7_919 % 140_000);
        let before =
            pages::page(&seed, &url, i as u64, &mut pages::Rng(i as u64 + 1), target).into_bytes();
        if let Some(site::Block::Paragraph(p)) = seed
            .blocks
            .iter_mut()
            .find(|b| matches!(b, site::Block::Paragraph(_)))
        {
            p.push(' ');
            p.push_str(sentence);
        }
        let after = pages::page(
            &seed,
            &url,
            i as u64 + 1,
            &mut pages::Rng(i as u64 + 1),
            target,
        )
        .into_bytes();
        let base: [u8; 32] = hex::decode(blobs::hash_hex(&before))
            .expect("hex")
            .try_into()
            .expect("32");
        let t0 = Instant::now();
        let p = blobs::pack_delta(&after, base, &before).expect("delta");
        t_delta += t0.elapsed().as_secs_f64();
        raw_delta.push(p.data.len());
        raw_whole.push(blobs::pack(&after).expect("pack").data.len());
    }
    let mut text_delta = Vec::new();
    for t in &texts {
        let s = String::from_utf8_lossy(t);
        let edited = s.replacen(". ", &format!(". {sentence} "), 1).into_bytes();
        let base: [u8; 32] = hex::decode(blobs::hash_hex(t))
            .expect("hex")
            .try_into()
            .expect("32");
        text_delta.push(
            blobs::pack_delta(&edited, base, t)
                .expect("delta")
                .data
                .len(),
        );
    }
    raw_delta.sort_unstable();
    let avg = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    println!(
        "\n| one-sentence edit, stored as | bytes |\n| --- | --- |\n| capture, whole (zstd {lvl}) | {:.0} average |\n| capture, delta against the previous revision | {:.0} average, {} max ({:.2} ms each) |\n| text, delta against the previous revision | {:.0} average, {} max |\n| capture + text, delta, largest | {} (target ≤ 3,000) |",
        avg(&raw_whole),
        avg(&raw_delta),
        raw_delta.last().copied().unwrap_or(0),
        t_delta * 1000.0 / raw_delta.len() as f64,
        avg(&text_delta),
        text_delta.iter().max().copied().unwrap_or(0),
        raw_delta.last().copied().unwrap_or(0) + text_delta.iter().max().copied().unwrap_or(0),
        lvl = blobs::ZSTD_LEVEL,
    );
}
