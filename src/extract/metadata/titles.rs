//! Titles as pages write them: the site's name cut off, entities decoded;
//! a byline's "By".

/// Longer than this, a "title" is a paragraph.
pub(super) const MAX_TITLE_CHARS: usize = 250;

/// "Headline | Site Name" → "Headline" when the tail is the site's name.
pub(super) fn strip_known_site(title: &str, site: Option<&str>) -> String {
    let Some(site) = site.map(str::trim).filter(|s| !s.is_empty()) else {
        return title.to_string();
    };
    for sep in [" | ", " – ", " — ", " - ", " :: ", " · "] {
        if let Some((head, tail)) = title.rsplit_once(sep)
            && tail.trim().eq_ignore_ascii_case(site)
            && !head.trim().is_empty()
        {
            return head.trim().to_string();
        }
    }
    title.to_string()
}

/// "Headline | Site" → "Headline", when the separated part is short.
pub(super) fn strip_site_suffix(title: &str) -> String {
    for sep in [" | ", " – ", " — ", " - ", " :: "] {
        if let Some((head, tail)) = title.rsplit_once(sep)
            && tail.split_whitespace().count() <= 4
            && head.len() > tail.len()
        {
            return head.trim().to_string();
        }
    }
    title.to_string()
}

pub(super) fn strip_by(b: &str) -> String {
    let t = b.trim();
    for p in ["By ", "by ", "BY "] {
        if let Some(rest) = t.strip_prefix(p) {
            return rest.trim().to_string();
        }
    }
    t.to_string()
}

/// HTML character references left inside JSON-LD strings (`&#8211;`,
/// `&amp;`): many CMSs escape twice.
pub(super) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = tail.get(1..e)?;
            let c = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
            } else if let Some(num) = name.strip_prefix('#') {
                num.parse().ok().and_then(char::from_u32)
            } else {
                match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    "ndash" => Some('\u{2013}'),
                    "mdash" => Some('\u{2014}'),
                    "lsquo" => Some('\u{2018}'),
                    "rsquo" => Some('\u{2019}'),
                    "ldquo" => Some('\u{201C}'),
                    "rdquo" => Some('\u{201D}'),
                    "hellip" => Some('\u{2026}'),
                    _ => None,
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = tail.get(e + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}
