//! Shows how the extractor sees a page: the top candidates with their
//! scores, the chosen roots, and which pruned ancestor hides a given text.
//!
//!     cargo run --example explain -- PAGE.html ["some text from the article"]

use newsledger::extract::content::*;
use scraper::Node;

fn describe(n: ego_tree::NodeRef<'_, Node>) -> String {
    match n.value() {
        Node::Element(e) => format!(
            "<{} class={:?} id={:?}>",
            e.name(),
            e.attr("class").unwrap_or(""),
            e.attr("id").unwrap_or("")
        ),
        _ => "(node)".into(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let html = std::fs::read_to_string(&args[0]).expect("read page");
    let doc = scraper::Html::parse_document(&html);
    let pass = PASSES[args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0)];
    let removed = prune_junk(&doc, &[], pass);
    let stats = Stats::compute(doc.tree.root(), &removed);
    let scores = score(doc.tree.root(), &stats);
    let mut v: Vec<_> = scores.iter().collect();
    v.sort_by(|a, b| b.1.total.total_cmp(&a.1.total));
    for (id, s) in v.iter().take(8) {
        let n = doc.tree.get(**id).expect("node");
        println!(
            "{:>7.1} (evidence {:>6.1}) text={:>6} ld={:.2} {}",
            s.total,
            s.evidence,
            stats.get(**id).text,
            stats.get(**id).link_density(),
            describe(n)
        );
    }
    for r in pick(&doc, &scores, &stats) {
        println!("root: {}", describe(r));
    }
    if let Some(needle) = args.get(1) {
        for n in doc.tree.root().descendants() {
            if let Node::Text(t) = n.value()
                && t.contains(needle.as_str())
            {
                let chain: Vec<String> = n
                    .ancestors()
                    .filter(|a| removed.contains(&a.id()))
                    .map(|a| {
                        let reason = match a.value() {
                            Node::Element(e) => junk_reason(e, pass).unwrap_or("ignored"),
                            _ => "",
                        };
                        format!("{} [{reason}]", describe(a))
                    })
                    .collect();
                println!("text found; pruned ancestors: {chain:?}");
                let path: Vec<String> = n.ancestors().take(6).map(describe).collect();
                println!("  path: {}", path.join(" < "));
            }
        }
    }
}
