//! The layers ARCHITECTURE.md draws, kept by the code: every `crate::…`
//! path under src/ is read, and an import that climbs (a module using one
//! on a higher layer) or a cycle between top-level modules fails the test,
//! naming the file and line. A new module must be given a layer here, so
//! that nothing escapes the rule by being new. Every source file stays
//! within `MAX_FILE_LINES` lines of shipped code.
//!
//! There are no exceptions: the last two climbs (the ledger using the
//! fetcher's exchange types and the proof log) were removed in issue 33.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer, ground first. A module may use its own
/// layer (without a cycle) and the ones below.
const LAYERS: &[(&str, u8)] = &[
    // Ground: shared types and encodings, configuration, URL identity.
    ("canonical", 0),
    ("config", 0),
    ("exchange", 0),
    ("identity", 0),
    ("limits", 0),
    ("note", 0),
    ("schedule", 0),
    ("x509", 0),
    // Pure stages.
    ("extract", 1),
    ("diff", 1),
    ("discover", 1),
    // The ledger and its storage contract.
    ("ledger", 2),
    // What reads and writes through the ledger.
    ("fetch", 3),
    ("proof", 3),
    ("export", 3),
    ("present", 3),
    // The daemon and the web view.
    ("service", 4),
    ("web", 4),
    // The command line and the demo on top.
    ("cli", 5),
    ("demo", 5),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under src/ belongs to (`None` for the
/// crate root, `main.rs` and the binaries, which use the library's public
/// API from outside).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if matches!(first, "lib.rs" | "main.rs" | "bin") {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// Every `crate::NAME` on a line that is not a comment, with `use crate::{a, b}` groups.
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    out
}

/// (from, to) → the places (file:line) where `from` uses `to`.
fn imports() -> BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        // Test modules may reach anywhere: they are not shipped.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in shipped.lines().enumerate() {
            for to in crate_paths(line) {
                if to == from {
                    continue;
                }
                let place = format!(
                    "{}:{}",
                    file.strip_prefix(src.parent().unwrap()).unwrap().display(),
                    n + 1
                );
                out.entry((from.clone(), to)).or_default().push(place);
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(modules.len() >= 10, "{modules:?}");
    for m in &modules {
        assert!(
            layer(m).is_some(),
            "src/lib.rs declares `{m}`, which has no layer in tests/architecture.rs: give it one (and a row in ARCHITECTURE.md's layer table)"
        );
    }
    for (m, _) in LAYERS {
        assert!(
            modules.contains(m),
            "tests/architecture.rs gives `{m}` a layer, but src/lib.rs has no such module"
        );
    }
}

#[test]
fn no_import_climbs_a_layer() {
    let found = imports();
    let mut climbing = Vec::new();
    for ((from, to), places) in &found {
        let (Some(a), Some(b)) = (layer(from), layer(to)) else {
            continue; // `every_module_has_a_layer` names it
        };
        if b > a {
            climbing.push(format!(
                "{} uses `crate::{to}` (layer {b}) from `{from}` (layer {a})",
                places.join(", ")
            ));
        }
    }
    assert!(
        climbing.is_empty(),
        "imports that climb a layer (move what they use down, or the code that uses it up):\n{}",
        climbing.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_cycle() {
    let found = imports();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in found.keys() {
        if layer(to).is_some() {
            edges.entry(from.as_str()).or_default().insert(to.as_str());
        }
    }
    // Two modules that use each other, or a longer loop: a depth-first walk
    // from each module looking for a way back.
    let mut cycles = Vec::new();
    for start in edges.keys() {
        let mut stack: Vec<Vec<&str>> = vec![vec![start]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for next in edges.get(last).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(next);
                    cycles.push(cycle.join(" → "));
                } else if seen.insert(*next) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "top-level modules in a cycle (places: `{}`):\n{}",
        "grep -n 'crate::MODULE' src/FROM",
        cycles.join("\n")
    );
}

/// The part of `module` a path names: `crate::MODULE::PART…` anywhere, or
/// `super::PART` from a file directly in the module's folder, or
/// `super::super::PART` from a file one folder deeper.
fn parts_named(line: &str, module: &str, depth: usize) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    let full = format!("crate::{module}::");
    let mut prefixes = vec![full];
    match depth {
        1 => prefixes.push("super::".to_string()),
        2 => prefixes.push("super::super::".to_string()),
        _ => {}
    }
    for prefix in &prefixes {
        let mut rest = code;
        while let Some(i) = rest.find(prefix.as_str()) {
            // `super::super::x` also contains `super::x`: only whole paths.
            let whole = i == 0 || !rest[..i].ends_with("::");
            let after = &rest[i + prefix.len()..];
            if whole {
                if let Some(group) = after.strip_prefix('{') {
                    for part in group.split('}').next().unwrap_or_default().split(',') {
                        let name = ident(part.trim());
                        if !name.is_empty() {
                            out.push(name);
                        }
                    }
                } else {
                    let name = ident(after);
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            }
            rest = after;
        }
    }
    out
}

#[test]
fn the_parts_of_a_module_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // module → part → parts it uses (with one place each, for the message).
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let comps: Vec<String> = rel
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        // Only files inside a module's folder have parts: src/MODULE/PART…
        if comps.len() < 2 || comps[0] == "bin" {
            continue;
        }
        let (module, part) = (comps[0].clone(), comps[1].clone());
        if part == "mod" {
            continue;
        }
        let folder = src.join(&module);
        let depth = comps.len() - 1 - usize::from(comps.last().is_some_and(|l| l == "mod"));
        let text = std::fs::read_to_string(file).unwrap();
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in shipped.lines().enumerate() {
            for to in parts_named(line, &module, depth) {
                let is_part =
                    folder.join(format!("{to}.rs")).is_file() || folder.join(&to).is_dir();
                if to == part || !is_part {
                    continue;
                }
                edges
                    .entry(module.clone())
                    .or_default()
                    .entry(part.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("src/{}:{}", rel.display(), n + 1));
            }
        }
    }
    let mut cycles = BTreeSet::new();
    for (module, parts) in &edges {
        for start in parts.keys() {
            let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
            let mut seen = BTreeSet::new();
            while let Some(path) = stack.pop() {
                let last = *path.last().unwrap();
                for (next, _) in parts.get(last).into_iter().flatten() {
                    if next == start {
                        // One line per cycle, from its smallest part.
                        let mut cycle: Vec<String> = path
                            .iter()
                            .zip(path.iter().skip(1).chain([&next.as_str()]))
                            .map(|(a, b)| format!("{module}::{a} → {b} ({})", parts[*a][*b]))
                            .collect();
                        let min = (0..cycle.len())
                            .min_by_key(|i| cycle[*i].clone())
                            .unwrap_or(0);
                        cycle.rotate_left(min);
                        cycles.insert(cycle.join(", "));
                    } else if seen.insert(next.as_str()) {
                        let mut longer = path.clone();
                        longer.push(next);
                        stack.push(longer);
                    }
                }
            }
        }
    }
    let cycles: Vec<String> = cycles.into_iter().collect();
    assert!(
        cycles.is_empty(),
        "parts of one module that use each other (move what both need into one of them, or below both):\n{}",
        cycles.join("\n")
    );
}

/// Lines of shipped code (before its test module) a source file may hold:
/// a room a reader can hold in mind. A file that outgrows it is split at
/// its seams (issue 33), not given an exception.
const MAX_FILE_LINES: usize = 600;

#[test]
fn every_source_file_is_a_room_a_reader_can_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut large = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shipped = text.split("\n#[cfg(test)]").next().unwrap_or_default();
        let lines = shipped.lines().count();
        if lines > MAX_FILE_LINES {
            large.push(format!(
                "{}: {lines} lines",
                file.strip_prefix(src.parent().unwrap()).unwrap().display()
            ));
        }
    }
    assert!(
        large.is_empty(),
        "source files over {MAX_FILE_LINES} lines before their tests (split them at their seams):\n{}",
        large.join("\n")
    );
}
