//! The layers ARCHITECTURE.md draws, kept by the code. Every file under
//! src/ (the binaries aside: they use the library from outside) is parsed
//! as Rust, and every path in its shipped code is resolved to the module
//! it names: `use` trees whole, paths in types, expressions, patterns and
//! attributes, paths inside macro calls and macro definitions (`$crate`),
//! `crate::`, `self::` and `super::` chains of any depth, names a module
//! imports (so a `pub use` in a `mod.rs` or in lib.rs does not launder
//! where an item lives), and names brought in by a glob. Test code is left
//! out by its `#[cfg(test)]` item, wherever that item sits.
//!
//! The rules, each a test that names the file and line:
//! - no import climbs a layer; no cycle between top-level modules;
//! - no cycle between the parts (files and folders) of any module;
//! - every module of src/lib.rs has a layer;
//! - nothing that would hide an import from this reading: `#[path]`,
//!   `include!`, `extern crate self`, `use crate as …`, a glob of the
//!   crate root, a `crate::NAME` where NAME is no module;
//! - every file within `MAX_FILE_LINES` lines of shipped code.
//!
//! There are no exceptions: the last two climbs (the ledger using the
//! fetcher's exchange types and the proof log) were removed in issue 33.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

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

/// Lines of shipped code (its `#[cfg(test)]` items aside) a source file may
/// hold: a room a reader can hold in mind. A file that outgrows it is split
/// at its seams (issue 33), not given an exception.
const MAX_FILE_LINES: usize = 600;

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

/// One library file: where it is, the module it is, its syntax.
struct SourceFile {
    /// Relative to the crate (`src/ledger/mod.rs`).
    rel: String,
    /// The module path (`["ledger"]`; `[]` for lib.rs).
    module: Vec<String>,
    syntax: syn::File,
    lines: usize,
}

/// Every file of the library (not `main.rs` nor the binaries).
fn library() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        if matches!(first, "main.rs" | "bin") {
            continue;
        }
        let mut module: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_str().unwrap().to_string())
            .collect();
        let last = module.pop().unwrap();
        if !matches!(last.as_str(), "mod.rs" | "lib.rs") {
            module.push(last.trim_end_matches(".rs").to_string());
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let syntax = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: does not parse: {e}", file.display()));
        out.push(SourceFile {
            rel: format!("src/{}", rel.display()),
            module,
            syntax,
            lines: text.lines().count(),
        });
    }
    assert!(out.len() > 50, "found only {} files under src/", out.len());
    out
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string() == "test")
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// A path as written, where it was written.
struct Written {
    /// The module it was written in (inline `mod`s included).
    module: Vec<String>,
    segments: Vec<String>,
    line: usize,
    /// A glob (`use a::b::*`): the module it names.
    glob: bool,
    /// From a `use` item (names it imports are resolved through it).
    import: Option<String>,
}

/// What one file's shipped code writes: its paths, its `use` items, and
/// constructs that would hide an import.
#[derive(Default)]
struct Reader {
    module: Vec<String>,
    written: Vec<Written>,
    hiding: Vec<(usize, String)>,
    /// Lines of `#[cfg(test)]` items.
    test_lines: usize,
    /// `mod` items declared (name, inline), with the module they are in.
    mods: Vec<(Vec<String>, String)>,
}

impl Reader {
    fn push(&mut self, segments: Vec<String>, line: usize, glob: bool, import: Option<String>) {
        if !segments.is_empty() {
            self.written.push(Written {
                module: self.module.clone(),
                segments,
                line,
                glob,
                import,
            });
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut full = prefix.clone();
                if name != "self" {
                    full.push(name.clone());
                }
                let alias = if name == "self" {
                    prefix.last().cloned()
                } else {
                    Some(name)
                };
                self.check_alias(&full, alias.as_deref(), line);
                self.push(full, line, false, alias);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                let name = r.ident.to_string();
                if name != "self" {
                    full.push(name);
                }
                let alias = r.rename.to_string();
                self.check_alias(&full, Some(&alias), line);
                self.push(full, line, false, Some(alias));
            }
            syn::UseTree::Glob(_) => {
                if prefix.len() == 1 && matches!(prefix[0].as_str(), "crate" | "$crate") {
                    self.hiding
                        .push((line, "a glob of the crate root (`use crate::*`)".into()));
                }
                self.push(prefix.clone(), line, true, None);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, line);
                }
            }
        }
    }

    /// `use crate as x` and the like: a second name for a root.
    fn check_alias(&mut self, full: &[String], alias: Option<&str>, line: usize) {
        let root_only = full
            .iter()
            .all(|s| matches!(s.as_str(), "crate" | "self" | "super"));
        if root_only && !full.is_empty() && alias.is_some() {
            self.hiding.push((
                line,
                format!(
                    "`use {} as {}`: a second name for a module root",
                    full.join("::"),
                    alias.unwrap_or_default()
                ),
            ));
        }
    }

    /// Paths inside a token stream (a macro's input or definition, an
    /// attribute's arguments): `crate :: a :: b`, `$crate :: a`,
    /// `super :: …`, `self :: …`, and the same inside string literals.
    fn tokens(&mut self, tokens: TokenStream) {
        let flat = flatten(tokens);
        let mut i = 0;
        while i < flat.len() {
            let (tok, line) = &flat[i];
            if let Some(s) = tok.strip_prefix('"') {
                for path in paths_in_text(s) {
                    self.push(path, *line, false, None);
                }
                i += 1;
                continue;
            }
            let dollar = tok == "$" && flat.get(i + 1).is_some_and(|t| t.0 == "crate");
            let start = if dollar { i + 1 } else { i };
            let head = flat.get(start).map(|t| t.0.as_str()).unwrap_or_default();
            if matches!(head, "crate" | "super" | "self")
                && flat.get(start + 1).is_some_and(|t| t.0 == "::")
            {
                let mut segs = vec![if dollar {
                    "$crate".to_string()
                } else {
                    head.to_string()
                }];
                let mut j = start + 1;
                while flat.get(j).is_some_and(|t| t.0 == "::")
                    && let Some((name, _)) = flat.get(j + 1)
                    && is_ident(name)
                {
                    segs.push(name.clone());
                    j += 2;
                }
                self.push(segs, *line, false, None);
                i = j;
            } else {
                i += 1;
            }
        }
    }
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A token stream as (token, line), groups opened in place, `::` as one.
fn flatten(tokens: TokenStream) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for t in tokens {
        let line = t.span().start().line;
        match t {
            TokenTree::Group(g) => out.extend(flatten(g.stream())),
            TokenTree::Ident(i) => out.push((i.to_string(), line)),
            TokenTree::Punct(p) => {
                if p.as_char() == ':' && out.last().is_some_and(|l| l.0 == ":") {
                    out.pop();
                    out.push(("::".into(), line));
                } else {
                    out.push((p.as_char().to_string(), line));
                }
            }
            TokenTree::Literal(l) => {
                let s = l.to_string();
                if s.starts_with('"') || s.starts_with("r\"") || s.starts_with("r#") {
                    out.push((
                        format!(
                            "\"{}",
                            s.trim_start_matches('r')
                                .trim_matches('#')
                                .trim_matches('"')
                        ),
                        line,
                    ));
                }
            }
        }
    }
    out
}

/// `crate::a::b`, `super::a`, `self::a` written in a string.
fn paths_in_text(s: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for head in ["$crate::", "crate::", "super::", "self::"] {
        let mut rest = s;
        while let Some(i) = rest.find(head) {
            let before = rest[..i].chars().last();
            let after = &rest[i..];
            rest = &rest[i + head.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            let path: Vec<String> = after
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '$'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            if path.len() > 1 {
                out.push(path);
            }
        }
    }
    out
}

impl<'ast> Visit<'ast> for Reader {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_cfg_test(item_attrs(item)) {
            let span = item.span();
            self.test_lines += span.end().line + 1 - span.start().line;
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if is_cfg_test(attrs) {
            let span = item.span();
            self.test_lines += span.end().line + 1 - span.start().line;
            return;
        }
        syn::visit::visit_impl_item(self, item);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let line = m.span().start().line;
        if m.attrs.iter().any(|a| a.path().is_ident("path")) {
            self.hiding.push((
                line,
                format!(
                    "`#[path]` on `mod {}`: a file outside its module's folder",
                    m.ident
                ),
            ));
        }
        self.mods.push((self.module.clone(), m.ident.to_string()));
        if let Some((_, items)) = &m.content {
            self.module.push(m.ident.to_string());
            for i in items {
                self.visit_item(i);
            }
            self.module.pop();
        }
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        if e.ident == "self" {
            self.hiding.push((
                e.span().start().line,
                "`extern crate self`: a second name for the crate root".into(),
            ));
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let line = u.span().start().line;
        let mut prefix = Vec::new();
        self.use_tree(&mut prefix, &u.tree, line);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.push(segs, p.span().start().line, false, None);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if m.path.is_ident("include") {
            self.hiding.push((
                m.span().start().line,
                "`include!`: code read from another file".into(),
            ));
        }
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // Doc comments name other modules in links; they import nothing.
        if a.path().is_ident("doc") {
            return;
        }
        if let syn::Meta::List(l) = &a.meta {
            self.tokens(l.tokens.clone());
        }
        if let syn::Meta::NameValue(nv) = &a.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            for path in paths_in_text(&s.value()) {
                self.push(path, s.span().start().line, false, None);
            }
        }
        syn::visit::visit_attribute(self, a);
    }
}

/// The whole library read: each file's paths resolved to the modules and
/// items they name.
struct Graph {
    files: Vec<(SourceFile, Reader)>,
    /// Every module that exists (files, folders, inline `mod`s).
    modules: BTreeSet<Vec<String>>,
    /// Per module: the names its `use` items bring in → what they name.
    imports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    /// Per module: the modules it glob-imports.
    globs: BTreeMap<Vec<String>, Vec<Vec<String>>>,
}

/// A use from one place to a resolved path.
struct Use {
    file: String,
    line: usize,
    /// The module written in.
    from: Vec<String>,
    to: Vec<String>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    for f in library() {
        let mut r = Reader {
            module: f.module.clone(),
            ..Reader::default()
        };
        for a in &f.syntax.attrs {
            r.visit_attribute(a);
        }
        for i in &f.syntax.items {
            r.visit_item(i);
        }
        files.push((f, r));
    }
    let mut modules: BTreeSet<Vec<String>> = files.iter().map(|(f, _)| f.module.clone()).collect();
    for (_, r) in &files {
        for (at, name) in &r.mods {
            let mut m = at.clone();
            m.push(name.clone());
            modules.insert(m);
        }
    }
    let mut g = Graph {
        files,
        modules,
        imports: BTreeMap::new(),
        globs: BTreeMap::new(),
    };
    // Imports resolved in rounds: one may name another's.
    for _ in 0..4 {
        let mut imports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut globs: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
        for (_, r) in &g.files {
            for w in &r.written {
                let Some(abs) = g.resolve(&w.module, &w.segments, true) else {
                    continue;
                };
                if w.glob {
                    globs.entry(w.module.clone()).or_default().push(abs);
                } else if let Some(alias) = &w.import {
                    imports
                        .entry(w.module.clone())
                        .or_default()
                        .insert(alias.clone(), abs);
                }
            }
        }
        g.imports = imports;
        g.globs = globs;
    }
    g
}

impl Graph {
    /// The absolute path (from the crate root) `segments`, written in
    /// `module`, names; `None` for paths outside the crate (std, other
    /// crates) and local names. `import`: the path comes from a `use`.
    fn resolve(&self, module: &[String], segments: &[String], import: bool) -> Option<Vec<String>> {
        let first = segments.first()?.as_str();
        let mut abs: Vec<String> = match first {
            "crate" | "$crate" => segments[1..].to_vec(),
            "self" => module.iter().chain(&segments[1..]).cloned().collect(),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let base = module.len().checked_sub(ups)?;
                module[..base]
                    .iter()
                    .chain(&segments[ups..])
                    .cloned()
                    .collect()
            }
            _ => {
                // A name in scope: a child module, a name this module
                // imports, or one a glob brings in.
                let mut child = module.to_vec();
                child.push(first.to_string());
                if self.modules.contains(&child) && (import || segments.len() > 1) {
                    child.extend(segments[1..].iter().cloned());
                    child
                } else if let Some(target) = self.imports.get(module).and_then(|m| m.get(first)) {
                    target.iter().chain(&segments[1..]).cloned().collect()
                } else {
                    let via_glob = self.globs.get(module).into_iter().flatten().find_map(|g| {
                        let mut c = g.clone();
                        c.push(first.to_string());
                        if self.modules.contains(&c) && segments.len() > 1 {
                            Some(c.into_iter().chain(segments[1..].iter().cloned()).collect())
                        } else {
                            self.imports
                                .get(g)
                                .and_then(|m| m.get(first))
                                .map(|t| t.iter().chain(&segments[1..]).cloned().collect())
                        }
                    });
                    via_glob?
                }
            }
        };
        // Follow names modules import (`pub use` re-exports and private
        // imports a child reaches through `super::`) to where they live.
        for _ in 0..8 {
            let mut changed = false;
            for k in (0..abs.len()).rev() {
                let (m, rest) = abs.split_at(k);
                if !self.modules.contains(m) {
                    continue;
                }
                let Some(name) = rest.first() else { continue };
                let mut as_module = m.to_vec();
                as_module.push(name.clone());
                if self.modules.contains(&as_module) {
                    continue;
                }
                if let Some(target) = self.imports.get(m).and_then(|i| i.get(name))
                    && target.as_slice() != &abs[..=k]
                {
                    abs = target.iter().chain(&rest[1..]).cloned().collect();
                    changed = true;
                    break;
                }
            }
            if !changed {
                break;
            }
        }
        Some(abs)
    }

    /// Every use in shipped code that names something in the crate.
    fn uses(&self) -> Vec<Use> {
        let mut out = Vec::new();
        for (f, r) in &self.files {
            for w in &r.written {
                if let Some(to) = self.resolve(&w.module, &w.segments, w.import.is_some() || w.glob)
                {
                    out.push(Use {
                        file: f.rel.clone(),
                        line: w.line,
                        from: w.module.clone(),
                        to,
                    });
                }
            }
        }
        out
    }
}

fn lib_modules() -> Vec<String> {
    let g = library();
    let lib = g.iter().find(|f| f.module.is_empty()).unwrap();
    lib.syntax
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_module_has_a_layer() {
    let modules = lib_modules();
    assert!(modules.len() > 10, "found only {modules:?} in src/lib.rs");
    for m in &modules {
        assert!(
            layer(m).is_some(),
            "src/lib.rs declares `mod {m}` but tests/architecture.rs gives it no layer"
        );
    }
    for (m, _) in LAYERS {
        assert!(
            modules.iter().any(|x| x == m),
            "tests/architecture.rs gives `{m}` a layer, but src/lib.rs has no such module"
        );
    }
}

#[test]
fn nothing_hides_an_import_from_this_reading() {
    let g = graph();
    let top: BTreeSet<String> = lib_modules().into_iter().collect();
    let mut found = Vec::new();
    for (f, r) in &g.files {
        for (line, what) in &r.hiding {
            found.push(format!("{}:{line}: {what}", f.rel));
        }
    }
    for u in g.uses() {
        if let Some(first) = u.to.first()
            && !top.contains(first)
        {
            found.push(format!(
                "{}:{}: `crate::{}` names no module of src/lib.rs (name the module where the item lives)",
                u.file,
                u.line,
                u.to.join("::")
            ));
        }
    }
    assert!(
        found.is_empty(),
        "constructs that hide what a file uses:\n{}",
        found.join("\n")
    );
}

/// (from, to) top-level modules → the places.
fn top_level_uses(g: &Graph) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for u in g.uses() {
        let (Some(from), Some(to)) = (u.from.first(), u.to.first()) else {
            continue;
        };
        if from != to {
            out.entry((from.clone(), to.clone()))
                .or_default()
                .push(format!("{}:{}", u.file, u.line));
        }
    }
    out
}

#[test]
fn no_import_climbs_a_layer() {
    let g = graph();
    let mut climbing = Vec::new();
    for ((from, to), places) in &top_level_uses(&g) {
        let (Some(a), Some(b)) = (layer(from), layer(to)) else {
            continue; // `every_module_has_a_layer` and the hiding check name it
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

/// Cycles in a graph of names, each as `a → b → … → a`.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for start in edges.keys() {
        let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for (next, _) in edges.get(last).into_iter().flatten() {
                if next == start {
                    // One line per cycle, from its smallest member.
                    let mut cycle: Vec<String> = path
                        .iter()
                        .zip(path.iter().skip(1).chain([&next.as_str()]))
                        .map(|(a, b)| format!("{a} → {b} ({})", edges[*a][*b]))
                        .collect();
                    let min = (0..cycle.len())
                        .min_by_key(|i| cycle[*i].clone())
                        .unwrap_or(0);
                    cycle.rotate_left(min);
                    out.insert(cycle.join(", "));
                } else if seen.insert(next.as_str()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
    out
}

#[test]
fn top_level_modules_form_no_cycle() {
    let g = graph();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for ((from, to), places) in top_level_uses(&g) {
        if layer(&to).is_some() {
            edges.entry(from).or_default().insert(to, places[0].clone());
        }
    }
    let found: Vec<String> = cycles(&edges).into_iter().collect();
    assert!(
        found.is_empty(),
        "top-level modules in a cycle:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_parts_of_a_module_form_no_cycle() {
    let g = graph();
    // Per module (at any depth): its parts (child modules) → parts they use.
    let mut by_module: BTreeMap<Vec<String>, BTreeMap<String, BTreeMap<String, String>>> =
        BTreeMap::new();
    for u in g.uses() {
        let common = u.from.iter().zip(&u.to).take_while(|(a, b)| a == b).count();
        let (Some(a), Some(b)) = (u.from.get(common), u.to.get(common)) else {
            continue;
        };
        let parent = u.from[..common].to_vec();
        if parent.is_empty() {
            continue; // top-level modules: the test above
        }
        let mut b_module = parent.clone();
        b_module.push(b.clone());
        if !g.modules.contains(&b_module) {
            continue; // an item of the parent itself (its mod.rs)
        }
        by_module
            .entry(parent)
            .or_default()
            .entry(a.clone())
            .or_default()
            .entry(b.clone())
            .or_insert_with(|| format!("{}:{}", u.file, u.line));
    }
    let mut found = Vec::new();
    for (module, edges) in &by_module {
        for c in cycles(edges) {
            found.push(format!("{}: {c}", module.join("::")));
        }
    }
    assert!(
        found.is_empty(),
        "parts of one module that use each other (move what both need into one of them, or below both):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_source_file_is_a_room_a_reader_can_hold() {
    let g = graph();
    let mut large = Vec::new();
    for (f, r) in &g.files {
        let shipped = f.lines.saturating_sub(r.test_lines);
        if shipped > MAX_FILE_LINES {
            large.push(format!("{}: {shipped} lines", f.rel));
        }
    }
    assert!(
        large.is_empty(),
        "source files over {MAX_FILE_LINES} lines of shipped code (split them at their seams):\n{}",
        large.join("\n")
    );
}

/// The reading itself, on the constructs a text search missed (a hostile
/// review found each): every one must come out as the path it names.
#[test]
fn the_reading_sees_through_what_text_matching_missed() {
    let text = r#"
use crate::{
    diff::significance::Level as A,
    fetch::Fetcher as B,
};
use crate::{diff::{significance::Level as L}, fetch::guard as N};
use crate :: fetch :: wire as S;
const URL: (&str, u8) = ("https://a", crate::fetch::MAX);
type Broken = crate::
    fetch::Split;
mod inner {
    use super::super::super::fetch::Deep;
}
macro_rules! m { () => { $crate::fetch::Macro }; }
fn f() { let _ = html! { (crate::fetch::InMacro) }; }
#[cfg(test)]
use crate::fetch::TestOnly;
#[serde(with = "crate::fetch::Attr")]
struct S;
"#;
    let syntax = syn::parse_file(text).unwrap();
    let mut r = Reader {
        module: vec!["ledger".into(), "lists".into()],
        ..Reader::default()
    };
    for i in &syntax.items {
        r.visit_item(i);
    }
    let g = Graph {
        files: vec![],
        modules: [
            vec!["ledger".to_string()],
            vec!["ledger".into(), "lists".into()],
            vec!["fetch".into()],
        ]
        .into_iter()
        .collect(),
        imports: BTreeMap::new(),
        globs: BTreeMap::new(),
    };
    let named: BTreeSet<String> = r
        .written
        .iter()
        .filter_map(|w| g.resolve(&w.module, &w.segments, true))
        .map(|p| p.join("::"))
        .collect();
    for want in [
        "fetch::Fetcher",
        "fetch::guard",
        "fetch::wire",
        "fetch::MAX",
        "fetch::Split",
        "fetch::Deep",
        "fetch::Macro",
        "fetch::InMacro",
        "fetch::Attr",
    ] {
        assert!(named.contains(want), "{want} not seen in {named:#?}");
    }
    assert!(
        !named.contains("fetch::TestOnly"),
        "a #[cfg(test)] item was read"
    );
    assert!(r.test_lines >= 2, "{}", r.test_lines);
}

/// The writer's transactions: each one is begun in one place
/// (`ledger/writer/upstream.rs`, `Writer::begin`), whose commit sends what
/// the transaction appended through PostgreSQL's sequencer first when the
/// ledger is a replica. A transaction begun anywhere else in the writer
/// would commit entries the shared log never got: every call that begins
/// one is found here, in every file of the writer, however it is spelled.
#[test]
fn the_writer_begins_every_transaction_in_one_place() {
    use syn::visit::Visit;
    const BEGINS: [&str; 5] = [
        "transaction",
        "transaction_with_behavior",
        "unchecked_transaction",
        "savepoint",
        "savepoint_with_name",
    ];
    struct Calls(Vec<(String, usize)>);
    impl<'a> Visit<'a> for Calls {
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let name = m.method.to_string();
            if BEGINS.contains(&name.as_str()) {
                self.0.push((name, m.method.span().start().line));
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            // `Connection::transaction(&mut c)`, `Transaction::new(..)`.
            let names: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if let Some(last) = names.last()
                && (BEGINS.contains(&last.as_str())
                    || names.ends_with(&["Transaction".into(), "new".into()])
                    || names.ends_with(&["Transaction".into(), "new_unchecked".into()]))
            {
                self.0.push((
                    names.join("::"),
                    p.path.segments[0].ident.span().start().line,
                ));
            }
            syn::visit::visit_expr_path(self, p);
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            // SQL that begins one by hand.
            let text = m.tokens.to_string().to_ascii_uppercase();
            if text.contains("BEGIN") || text.contains("SAVEPOINT") {
                self.0.push(("BEGIN in a macro".into(), 0));
            }
            syn::visit::visit_macro(self, m);
        }
        // Doc comments are prose.
        fn visit_attribute(&mut self, _: &'a syn::Attribute) {}
        fn visit_lit_str(&mut self, s: &'a syn::LitStr) {
            let text = s.value().to_ascii_uppercase();
            if text.trim_start().starts_with("BEGIN") || text.contains("SAVEPOINT ") {
                self.0
                    .push((format!("SQL {:?}", s.value()), s.span().start().line));
            }
        }
    }
    let mut found = Vec::new();
    let mut writer_files = 0;
    for f in library() {
        if !f.rel.starts_with("src/ledger/writer/") {
            continue;
        }
        writer_files += 1;
        let mut calls = Calls(Vec::new());
        calls.visit_file(&f.syntax);
        if f.rel == "src/ledger/writer/upstream.rs" {
            assert!(
                !calls.0.is_empty(),
                "upstream.rs no longer begins the writer's transactions"
            );
            continue;
        }
        found.extend(
            calls
                .0
                .into_iter()
                .map(|(what, line)| format!("{}:{line}: {what}", f.rel)),
        );
    }
    assert!(
        writer_files >= 8,
        "found only {writer_files} files of the writer"
    );
    assert!(
        found.is_empty(),
        "the writer begins a transaction outside `Writer::begin` (upstream.rs); use `self.begin()` or `self.recording(..)` so that its entries reach PostgreSQL before the replica commits:\n{}",
        found.join("\n")
    );
}
