//! Extraction survives hostile and arbitrary input: no panic, no stack
//! overflow, deterministic output. (Time bounds are measured by
//! `cargo run --release --example parse_cost` and bench/, not asserted here.)

use newsledger::config::ExtractOverrides;
use newsledger::extract::{self, prefilter};
use proptest::prelude::*;

/// Cases per property: 256 in `cargo test`, more with `PROPTEST_CASES` (bench/fuzz.sh).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs extraction on a thread with a 512 KiB stack: a recursive walk over
/// deep input would overflow it and abort the test process.
fn extract_small_stack(html: String) -> extract::Article {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || extract::extract(&html, None, &ExtractOverrides::default()))
        .expect("spawn")
        .join()
        .expect("extraction panicked")
}

#[test]
fn a_hundred_thousand_nested_elements() {
    let n = 100_000;
    let html = format!(
        "<html><body>{}<p>deep text, here, with words</p>{}</body></html>",
        "<div>".repeat(n),
        "</div>".repeat(n)
    );
    let a = extract_small_stack(html);
    assert_eq!(a.text, "deep text, here, with words");
}

#[test]
fn nested_inline_and_table_soup() {
    let n = 50_000;
    let html = format!(
        "<body>{}text, text, text{}",
        "<span><b><table><tr><td>".repeat(n / 4),
        "</td></tr></table></b></span>".repeat(n / 4)
    );
    let a = extract_small_stack(html);
    assert!(a.text.contains("text, text, text"));
}

#[test]
fn a_page_of_two_hundred_thousand_links() {
    let mut html = String::from(
        "<html><body><article><p>The one paragraph of text, with commas, that matters here.</p></article><nav>",
    );
    for i in 0..200_000 {
        html.push_str(&format!("<a href=\"/l{i}\">link {i}</a> "));
    }
    html.push_str("</nav></body></html>");
    let a = extract_small_stack(html);
    assert_eq!(
        a.text,
        "The one paragraph of text, with commas, that matters here."
    );
}

#[test]
fn a_twenty_megabyte_single_line() {
    let html = format!(
        "<html><body><p>{}</p></body></html>",
        "word, ".repeat(3_500_000)
    );
    assert!(html.len() > 20_000_000);
    let a = extract_small_stack(html);
    assert!(a.text.starts_with("word, word,"));
    assert!(a.text.len() <= extract::MAX_PARSE_BYTES);
}

#[test]
fn binary_garbage_and_broken_json_ld() {
    let mut bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes.extend_from_slice(b"<script type=\"application/ld+json\">{\"@type\": \"NewsArticle\", \"headline\": </script>");
    let html = extract::decode(&bytes, Some("text/html")).into_owned();
    let a = extract_small_stack(html);
    assert_eq!(a.title, None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,2000}") {
        let a = extract::extract(&s, None, &ExtractOverrides::default());
        let b = extract::extract(&s, None, &ExtractOverrides::default());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn tag_soup_never_panics_and_is_deterministic(parts in proptest::collection::vec(prop_oneof![
        Just("<div class=\"content\">".to_string()), Just("</div>".to_string()), Just("<p>".to_string()),
        Just("</p>".to_string()), Just("<script>".to_string()), Just("</script>".to_string()),
        Just("<!--".to_string()), Just("-->".to_string()), Just("<a href=x>".to_string()), Just("</a>".to_string()),
        Just("<br/>".to_string()), Just("<table><tr><td>".to_string()), Just("<svg>".to_string()),
        Just("<style>".to_string()), Just("<div style=\"display:none\">".to_string()), Just("<".to_string()),
        Just("'\"=>".to_string()), "[a-zA-Z ,.]{0,40}", "\\PC{0,10}",
    ], 0..200)) {
        let html: String = parts.concat();
        let a = extract::extract(&html, Some("https://example.org/x"), &ExtractOverrides::default());
        let b = extract::extract(&html, Some("https://example.org/x"), &ExtractOverrides::default());
        prop_assert_eq!(&a, &b);
        // The prefilter never grows the page.
        prop_assert!(prefilter::strip(&html).len() <= html.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    /// The configuration parser never panics: any text is a config or one error line.
    #[test]
    fn config_parser_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("[ledger]\n".to_string()), Just("path = \"x.db\"\n".to_string()), Just("[fetch]\n".to_string()),
        Just("timeout = \"30s\"\n".to_string()), Just("[[source]]\n".to_string()), Just("name = \"a\"\n".to_string()),
        Just("schedule = \"*/5 * * * *\"\n".to_string()), Just("urls = [\"https://a.example/\"]\n".to_string()),
        Just("timezone = \"Europe/Istanbul\"\n".to_string()), Just("revisit = [{ until = \"1h\", every = \"0s\" }]\n".to_string()),
        Just("[[webhook]]\nurl = \"http://127.0.0.1:1/h\"\n".to_string()), Just("[metrics]\nlisten = \"127.0.0.1:0\"\n".to_string()),
        "[a-z_]{1,8} = \"[ -~]{0,12}\"\n", "\\PC{0,20}\n",
    ], 0..30)) {
        let text: String = parts.concat();
        match newsledger::config::Config::parse(&text, std::path::Path::new("fuzz.toml")) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "one line: {}", e),
        }
    }
}
