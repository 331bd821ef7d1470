//! The evaluation harness on a corpus of the user's own: page ids of any
//! length (the Zyte set's are 64 hex digits; `--worst` once cut every id
//! at 12 bytes and panicked on shorter ones).

use std::process::Command;

#[test]
fn extract_eval_scores_a_corpus_with_short_page_ids() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/extractor-corpus/seed-hurriyet-daily-news.html");
    let html = std::fs::read_to_string(&fixture).unwrap();
    std::fs::create_dir(dir.path().join("html")).unwrap();
    for id in ["a", "page-02"] {
        std::fs::write(dir.path().join("html").join(format!("{id}.html")), &html).unwrap();
    }
    let article = newsledger::extract::extract(&html, None, &Default::default());
    let truth = serde_json::json!({
        "a": {"articleBody": article.text, "url": "https://news.example/a"},
        "page-02": {"articleBody": "nothing like the page", "url": "https://news.example/b"},
    });
    let gt = dir.path().join("ground-truth.json");
    std::fs::write(&gt, truth.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_extract-eval"))
        .arg(dir.path().join("html"))
        .arg(&gt)
        .args(["--worst", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pages:     2"), "{stdout}");
    // The worst page first, each named by its whole short id.
    let worst: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("worst 2 pages"))
        .skip(1)
        .take(2)
        .collect();
    assert!(worst[0].contains(" page-02 "), "{worst:?}");
    assert!(worst[1].contains(" a "), "{worst:?}");
}
