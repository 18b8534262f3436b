//! The layering of docs/design.md, checked on the source: which layer may import which
//! (the core imports only `units`; the simulator and the tcp backend never import each
//! other), and no import cycles among files.
//!
//! How: every `crate::…` and `super::…` path in a file (in `use` items, brace groups
//! expanded, and inline in code) is resolved to the module file it names, the longest
//! prefix of the path that is a module. That gives a file graph; an edge from a module to
//! one of its own submodules is containment (a `mod.rs` declaring and re-exporting its
//! children), not a dependency, and is left out. Test code — `tests.rs` and `testing.rs`
//! files, and a file's trailing `#[cfg(test)]` module — is left out too: tests may reach
//! across layers to build what they check.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers and what each may import (besides itself), from docs/design.md.
const LAYERS: &[(&str, &[&str])] = &[
    ("units", &[]),
    ("core", &["units"]),
    ("scenario", &["core", "units"]),
    ("metrics", &["scenario", "core", "units"]),
    ("plot", &["metrics", "scenario", "core", "units"]),
    ("sim", &["metrics", "scenario", "core", "units"]),
    ("tcp", &["metrics", "scenario", "core", "units"]),
    (
        "run",
        &["sim", "tcp", "plot", "metrics", "scenario", "core", "units"],
    ),
    (
        "batch",
        &["run", "plot", "metrics", "scenario", "core", "units"],
    ),
    (
        "compare",
        &["run", "plot", "metrics", "scenario", "core", "units"],
    ),
];

/// A module path (`["core", "peer", "conn"]`) for each source file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            if parts == ["main"] {
                continue;
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The file's text without test code.
fn production_text(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    if name == "tests.rs" || name == "testing.rs" {
        return None;
    }
    let text = fs::read_to_string(path).expect("read source");
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    Some(text[..cut].to_string())
}

/// Drops comments (`//` to the end of the line) so paths in docs do not count.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path of a `use` tree (`a::{b, c::{d, e}}` gives a::b, a::c::d, a::c::e).
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("balanced braces")];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| {
            let p = p.trim();
            if p == "self" {
                vec![prefix.trim_end_matches("::").to_string()]
            } else {
                expand(&format!("{prefix}{p}"))
            }
        })
        .collect()
}

/// The `crate::`/`super::` paths a file uses.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            out.extend(expand(&after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    // Inline paths in code: `crate::a::b` or `super::a`.
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let tail = &rest[i..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            out.push(tail[..len].trim_end_matches(':').to_string());
            rest = &tail[len..];
        }
    }
    out
}

/// The module a path names, as seen from module `from`: its longest prefix that is a
/// module of the crate (`None` for paths outside it, such as `std::…`).
fn resolve(
    path: &str,
    from: &[String],
    all: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    // Module paths make `super` the same for `a/b.rs` and `a/b/mod.rs`: module `a`.
    let mut base: Vec<String> = match segs.first() {
        Some(&"crate") => {
            segs.remove(0);
            Vec::new()
        }
        Some(&"super") => {
            let mut b = from.to_vec();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                b.pop();
            }
            b
        }
        Some(&"self") => {
            segs.remove(0);
            from.to_vec()
        }
        _ => return None,
    };
    let mut best = base.clone();
    for s in segs {
        base.push(s.to_string());
        if all.contains_key(&base) {
            best = base.clone();
        } else {
            break;
        }
    }
    Some(best)
}

struct Graph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let all = modules(&src);
    let mut edges = BTreeMap::new();
    for (module, file) in &all {
        let Some(text) = production_text(file) else {
            continue;
        };
        let mut to = BTreeSet::new();
        for p in paths(&code(&text)) {
            if let Some(target) = resolve(&p, module, &all)
                && target != *module
                && !target.starts_with(module)
            {
                to.insert(target);
            }
        }
        edges.insert(module.clone(), to);
    }
    Graph { edges }
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let g = graph();
    let mut violations = Vec::new();
    for (from, targets) in &g.edges {
        let Some(layer) = from.first() else { continue };
        let Some((_, allowed)) = LAYERS.iter().find(|(l, _)| l == layer) else {
            continue;
        };
        for t in targets {
            let Some(other) = t.first() else {
                violations.push(format!("{} imports the crate root", name(from)));
                continue;
            };
            if other != layer && !allowed.contains(&other.as_str()) {
                violations.push(format!("{} imports {}", name(from), name(t)));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
    // The test sees what it should: the core's peer imports its neighbours in core.
    let peer = g.edges.get(&vec!["core".to_string(), "peer".to_string()]);
    assert!(
        peer.is_some_and(|t| t.contains(&vec!["core".to_string(), "bitfield".to_string()])),
        "the import graph missed core::peer -> core::bitfield: {peer:?}"
    );
}

#[test]
fn no_import_cycles_among_files() {
    let g = graph();
    // Tarjan's strongly connected components.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        cycles: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let g = s.g;
        for w in g.edges.get(v).into_iter().flatten() {
            let Some((w, _)) = g.edges.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(name(w));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.cycles.push(comp);
            }
        }
    }
    let mut s = State {
        g: &g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        cycles: Vec::new(),
    };
    for v in g.edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    let cycles: Vec<String> = s.cycles.iter().map(|c| c.join(" <-> ")).collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_path_reader_expands_use_trees_and_resolves_super() {
    assert_eq!(
        expand("super::{a, b::{c, d as e}, self}"),
        ["super::a", "super::b::c", "super::b::d", "super"]
    );
    let mut all = BTreeMap::new();
    for m in [
        vec!["core"],
        vec!["core", "peer"],
        vec!["core", "peer", "conn"],
    ] {
        all.insert(
            m.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            PathBuf::new(),
        );
    }
    let from: Vec<String> = vec!["core".into(), "peer".into(), "conn".into()];
    let got = resolve("super::super::peer::Thing", &from, &all);
    assert_eq!(got, Some(vec!["core".to_string(), "peer".to_string()]));
    assert_eq!(resolve("std::fmt", &from, &all), None);
}
