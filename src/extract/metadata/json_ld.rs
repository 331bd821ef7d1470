//! JSON-LD: the article object (`@graph` and nested types), its names,
//! people and text.

use crate::extract::dom::NodeRef;
use serde_json::Value;

use super::clean;
use super::titles::decode_entities;

/// Schema.org types that describe an article.
pub(super) const ARTICLE_TYPES: &[&str] = &[
    "Article",
    "NewsArticle",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "Report",
    "ScholarlyArticle",
    "TechArticle",
    "SocialMediaPosting",
];

/// A JSON-LD value as text: a string, or the first string of an array.
pub(super) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => clean(&decode_entities(s)),
        Value::Array(a) => a.iter().find_map(text_of),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `author` as a string, an object with `name`, or a list of either.
pub(super) fn names_of(v: &Value) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: Option<String>| {
        if let Some(n) = n.filter(|n| !n.starts_with("http") && !names.contains(n)) {
            names.push(n);
        }
    };
    match v {
        Value::Array(items) => {
            for i in items {
                push(i.get("name").and_then(text_of).or_else(|| text_of(i)));
            }
        }
        Value::Object(_) => push(v.get("name").and_then(text_of)),
        other => push(text_of(other)),
    }
    (!names.is_empty()).then(|| names.join(", "))
}

/// Like [`names_of`], without organizations (a publisher named as the
/// author is no byline when the page shows a person's).
pub(super) fn people_of(v: &Value) -> Option<String> {
    let person = |i: &Value| !types_of(i).iter().any(|t| t.contains("Organization"));
    match v {
        Value::Array(items) => {
            let people: Vec<Value> = items.iter().filter(|i| person(i)).cloned().collect();
            names_of(&Value::Array(people))
        }
        Value::Object(_) if !person(v) => None,
        other => names_of(other),
    }
}

pub(super) fn is_article(v: &Value) -> bool {
    types_of(v).iter().any(|t| {
        let t = t.rsplit('/').next().unwrap_or(t);
        ARTICLE_TYPES.contains(&t)
    })
}

/// The first schema.org article object in any JSON-LD block, searching
/// arrays and `@graph` (iteratively: a hostile block cannot recurse us);
/// and the first web page object with a `datePublished` (Yoast and other
/// SEO plugins date the `WebPage`, not an article).
pub(super) fn json_ld_article(scripts: &[NodeRef<'_>]) -> (Option<Value>, Option<Value>) {
    let mut page: Option<Value> = None;
    for script in scripts {
        let raw: String = script.text().collect();
        // Some sites wrap the JSON in HTML comments or CDATA.
        let raw = raw
            .trim()
            .trim_start_matches("<!--")
            .trim_end_matches("-->");
        let raw = raw
            .trim_start_matches("//<![CDATA[")
            .trim_end_matches("//]]>");
        let Ok(value) = serde_json::from_str::<Value>(raw.trim()) else {
            continue;
        };
        let mut stack = vec![value];
        let mut visited = 0;
        while let Some(v) = stack.pop() {
            visited += 1;
            if visited > 10_000 {
                break;
            }
            if is_article(&v) {
                return (Some(v), page);
            }
            if page.is_none() && is_web_page(&v) && v.get("datePublished").is_some() {
                page = Some(v.clone());
            }
            match v {
                Value::Array(items) => stack.extend(items.into_iter().rev()),
                Value::Object(mut o) => {
                    if let Some(g) = o.remove("@graph") {
                        stack.push(g);
                    }
                    if let Some(e) = o.remove("mainEntity") {
                        stack.push(e);
                    }
                }
                _ => {}
            }
        }
    }
    (None, page)
}

pub(super) fn types_of(v: &Value) -> Vec<&str> {
    match v.get("@type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `WebPage` and its kinds (`ItemPage`, `AboutPage`…).
pub(super) fn is_web_page(v: &Value) -> bool {
    types_of(v).iter().any(|t| t.ends_with("Page"))
}
