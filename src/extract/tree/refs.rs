//! Character references and newlines in text and attribute values.

use std::borrow::Cow;

/// `s` with its character references decoded (`&amp;`, `&#8217;`,
/// `&copy` without its semicolon); in an attribute, a reference without
/// its semicolon followed by a letter, digit or `=` stays as written.
pub fn decode(s: &str, in_attribute: bool) -> Cow<'_, str> {
    let s = newlines(s);
    let Some(first) = memchr::memchr(b'&', s.as_bytes()) else {
        return s;
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(s.get(..first).unwrap_or_default());
    let mut rest = s.get(first..).unwrap_or_default();
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(rest.get(..amp).unwrap_or_default());
        rest = rest.get(amp..).unwrap_or_default();
        let used = match reference(rest, in_attribute) {
            Some((chars, used)) => {
                out.extend(chars.into_iter().flatten());
                used
            }
            None => {
                out.push('&');
                1
            }
        };
        rest = rest.get(used..).unwrap_or_default();
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `s` with `\r\n` and a lone `\r` as `\n`, as the standard reads input.
pub fn newlines(s: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The code point a numeric reference stands for (C1 controls as
/// windows-1252, invalid ones as U+FFFD).
pub(super) fn numeric(n: u32) -> char {
    const C1: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let n = match n {
        0 => 0xFFFD,
        0x80..=0x9F => C1.get((n - 0x80) as usize).copied().unwrap_or(0xFFFD),
        n => n,
    };
    char::from_u32(n).unwrap_or('\u{FFFD}')
}

/// The reference at the start of `s` (which starts with `&`): its one or
/// two characters and the bytes it took; `None` when it is no reference.
pub(super) fn reference(s: &str, in_attribute: bool) -> Option<([Option<char>; 2], usize)> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let digits = b
            .get(start..)?
            .iter()
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let n = u32::from_str_radix(s.get(start..start + digits)?, if hex { 16 } else { 10 })
            .unwrap_or(0x11_0000);
        let n = if n > 0x10_FFFF || (0xD800..=0xDFFF).contains(&n) {
            0xFFFD
        } else {
            n
        };
        let used = start + digits + usize::from(b.get(start + digits) == Some(&b';'));
        return Some(([Some(numeric(n)), None], used));
    }
    // Named: the longest name in the table (the longest is 32 bytes).
    let alnum = b
        .get(1..)?
        .iter()
        .take(40)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let chars = |(a, c): (u32, u32)| [char::from_u32(a), char::from_u32(c).filter(|_| c != 0)];
    // The table also lists every prefix of a name, as (0, 0).
    let named = |name: &str| {
        web_atoms::NAMED_ENTITIES
            .get(name)
            .copied()
            .filter(|v| v.0 != 0)
    };
    if b.get(1 + alnum) == Some(&b';')
        && let Some(v) = named(s.get(1..alnum + 2)?)
    {
        return Some((chars(v), alnum + 2));
    }
    (1..=alnum).rev().find_map(|len| {
        let v = named(s.get(1..1 + len)?)?;
        let next = b.get(1 + len);
        if in_attribute && next.is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'=') {
            return None;
        }
        Some((chars(v), 1 + len))
    })
}
