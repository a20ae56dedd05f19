//! The code's shape, checked: no import cycles between modules in any crate of the workspace,
//! and each vendor named in one module per side. A module may use its own submodules (that is
//! containment, not an import); every other `crate::`/`super::` path is an edge, and the
//! edges form no cycle.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `root` with its text.
fn rs_files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path, text));
            }
        }
    }
    found
}

/// Every module under `root`, by module path (`lib.rs`/`main.rs` are the crate root,
/// `x/mod.rs` is `x`).
fn modules(root: &Path) -> BTreeMap<Module, String> {
    rs_files(root)
        .into_iter()
        .map(|(path, text)| {
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            (module, text)
        })
        .collect()
}

/// The source without line comments and without the unit tests at the end of the file.
fn code(source: &str) -> String {
    let end = source.find("#[cfg(test)]").unwrap_or(source.len());
    source[..end]
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths of a use tree starting at `text` (just after `crate::` or `super::`): `a::b`,
/// `{a, b::{c, d}}`.
fn use_paths(text: &str) -> Vec<Vec<String>> {
    fn tree(chars: &[char], at: &mut usize) -> Vec<Vec<String>> {
        let mut prefix = Vec::new();
        loop {
            while *at < chars.len() && chars[*at].is_whitespace() {
                *at += 1;
            }
            if chars.get(*at) == Some(&'{') {
                *at += 1;
                let mut paths = Vec::new();
                loop {
                    for path in tree(chars, at) {
                        paths.push(prefix.iter().cloned().chain(path).collect());
                    }
                    while *at < chars.len() && chars[*at].is_whitespace() {
                        *at += 1;
                    }
                    match chars.get(*at) {
                        Some(',') => *at += 1,
                        Some('}') => {
                            *at += 1;
                            break;
                        }
                        _ => break,
                    }
                    while *at < chars.len() && chars[*at].is_whitespace() {
                        *at += 1;
                    }
                    if chars.get(*at) == Some(&'}') {
                        *at += 1;
                        break;
                    }
                }
                return paths;
            }
            let start = *at;
            while *at < chars.len() && (chars[*at].is_alphanumeric() || chars[*at] == '_') {
                *at += 1;
            }
            if *at == start {
                return vec![prefix];
            }
            prefix.push(chars[start..*at].iter().collect());
            if chars[*at..].starts_with(&[':', ':']) {
                *at += 2;
            } else {
                return vec![prefix];
            }
        }
    }
    let chars: Vec<char> = text.chars().take(2000).collect();
    tree(&chars, &mut 0)
}

/// The names each module re-exports from its submodules (`pub use child::Name`), so a path
/// through a facade resolves to the module that defines the name.
fn reexports(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    for (module, source) in modules {
        let code = code(source);
        let mut names = BTreeMap::new();
        for (at, _) in code.match_indices("pub use ") {
            let rest = &code[at + "pub use ".len()..];
            let rest = rest.strip_prefix("self::").unwrap_or(rest);
            for path in use_paths(rest) {
                let (Some(child), Some(name)) = (path.first(), path.last()) else {
                    continue;
                };
                let mut child_module = module.clone();
                child_module.push(child.clone());
                if path.len() > 1 && modules.contains_key(&child_module) {
                    names.insert(name.clone(), child.clone());
                }
            }
        }
        found.insert(module.clone(), names);
    }
    found
}

/// The module a path names: its longest module prefix, followed through re-exports.
fn resolve(
    path: &[String],
    modules: &BTreeMap<Module, String>,
    reexports: &BTreeMap<Module, BTreeMap<String, String>>,
) -> Module {
    let mut current = Module::new();
    for segment in path {
        let mut next = current.clone();
        next.push(segment.clone());
        if modules.contains_key(&next) {
            current = next;
        } else if let Some(child) = reexports.get(&current).and_then(|r| r.get(segment)) {
            current.push(child.clone());
        } else {
            break;
        }
    }
    current
}

/// The imports between sibling modules. A use of `x::y::z` from `x::a::b` is an edge from
/// `x::a` to `x::y`: the two subtrees of `x` depend on each other that way. A module's use of
/// its own submodules (containment) and a submodule's use of its ancestors' items are not
/// edges between siblings.
fn edges(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let reexports = reexports(modules);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, source) in modules {
        edges.entry(module.clone()).or_default();
        let code = code(source);
        for anchor in ["crate::", "super::"] {
            for (at, _) in code.match_indices(anchor) {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let mut base: Module = if anchor == "crate::" {
                    Vec::new()
                } else {
                    module[..module.len().saturating_sub(1)].to_vec()
                };
                let mut rest = &code[at + anchor.len()..];
                while let Some(more) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = more;
                }
                for path in use_paths(rest) {
                    let full: Vec<String> = base.iter().cloned().chain(path).collect();
                    let target = resolve(&full, modules, &reexports);
                    let common = module
                        .iter()
                        .zip(&target)
                        .take_while(|(a, b)| a == b)
                        .count();
                    if common == module.len() || common == target.len() {
                        continue;
                    }
                    edges
                        .entry(module[..=common].to_vec())
                        .or_default()
                        .insert(target[..=common].to_vec());
                }
            }
        }
    }
    edges
}

/// One cycle in the graph, if there is any.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

fn crate_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        roots.push(entry.unwrap().path().join("src"));
    }
    roots
}

#[test]
fn no_crate_of_the_workspace_has_an_import_cycle() {
    for root in crate_sources() {
        let modules = modules(&root);
        assert!(modules.len() > 2, "{} has its modules", root.display());
        if let Some(cycle) = find_cycle(&edges(&modules)) {
            let path: Vec<String> = cycle.iter().map(name).collect();
            panic!("{}: import cycle {}", root.display(), path.join(" → "));
        }
    }
}

fn parse(files: &[(&[&str], &str)]) -> BTreeMap<Module, String> {
    files
        .iter()
        .map(|(path, text)| {
            (
                path.iter().map(|s| s.to_string()).collect(),
                text.to_string(),
            )
        })
        .collect()
}

#[test]
fn the_checker_sees_cycles_through_grouped_and_nested_uses() {
    let graph = edges(&parse(&[
        (&[], "mod a; mod b; mod c;"),
        (&["a"], "use crate::{b::{x, y}, c};\nfn f() {}"),
        (&["b"], "use super::a::Thing;"),
        (&["c"], "// use crate::a;\nfn g() { crate::b::x(); }"),
    ]));
    let (a, b, c): (Module, Module, Module) =
        (vec!["a".into()], vec!["b".into()], vec!["c".into()]);
    assert_eq!(graph[&a], BTreeSet::from([b.clone(), c.clone()]));
    assert_eq!(
        graph[&c],
        BTreeSet::from([b.clone()]),
        "comments are not uses"
    );
    assert!(
        graph[&Vec::new()].is_empty(),
        "declaring submodules is containment"
    );
    let cycle = find_cycle(&graph).expect("a ↔ b");
    assert!(cycle.contains(&a) && cycle.contains(&b), "{cycle:?}");
}

#[test]
fn the_checker_sees_sibling_cycles_behind_a_facade() {
    // p::args ↔ p::serve, with serve reaching args through p's re-export.
    let graph = edges(&parse(&[
        (&[], "mod p;"),
        (&["p"], "mod args; mod serve; pub use args::Global;"),
        (&["p", "args"], "use super::serve::Command;"),
        (&["p", "serve"], "use super::Global;"),
    ]));
    let cycle = find_cycle(&graph).expect("args ↔ serve");
    assert!(cycle.len() == 3, "{cycle:?}");
    // A submodule using its parent's own items is not a cycle.
    let graph = edges(&parse(&[
        (&[], "mod p;"),
        (
            &["p"],
            "mod child; pub struct Shared; fn f() { child::g(); }",
        ),
        (&["p", "child"], "use super::Shared;"),
    ]));
    assert_eq!(find_cycle(&graph), None);
}

/// A vendor is one module on each side and one line in each registry: outside them (and the
/// name list in crates/spec, and the built-in profiles SPEC §2 names), no code names a
/// particular vendor.
#[test]
fn each_vendor_is_named_only_in_its_own_modules_and_the_registries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let allowed = [
        "crates/spec/src/vendor.rs",
        "src/config/profile.rs",
        "crates/sandbox/src/registry.rs",
    ];
    let kinds = ["Rastro", "Batch", "Catalogix", "Clevertap", "Catalogian"];
    let mut misplaced = Vec::new();
    for src in crate_sources() {
        for (path, source) in rs_files(&src) {
            let shown = path.strip_prefix(root).unwrap().display().to_string();
            if allowed.contains(&shown.as_str()) {
                continue;
            }
            let code = code(&source);
            for kind in kinds {
                let own = path
                    .strip_prefix(&src)
                    .unwrap()
                    .with_extension("")
                    .components()
                    .any(|part| part.as_os_str().eq_ignore_ascii_case(kind));
                if !own && code.contains(&format!("VendorKind::{kind}")) {
                    misplaced.push(format!("{shown} names VendorKind::{kind}"));
                }
            }
        }
    }
    assert!(misplaced.is_empty(), "{misplaced:#?}");
}
