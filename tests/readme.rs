//! The README's examples, run: every ```sh block (those for real vendors are ```shell), in
//! order, as bash scripts in one temporary home with `examples/` beside them, against the
//! embedded sandbox. An example that stops working fails here.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::Command;

use common::{Env, BIN};

/// The ```sh blocks of the README, with the line each starts on.
fn sh_blocks(readme: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in readme.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some((index + 1, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, block)), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn every_sh_example_in_the_readme_runs_against_the_sandbox() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 10, "found only {} sh blocks", blocks.len());
    let env = Env::new();
    copy_dir(&repo.join("examples"), &env.home.path().join("examples"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for (line, block) in blocks {
        // The set-up commands at the top build catops; the test suite is already that.
        if block.contains("cargo ") {
            continue;
        }
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("set -euo pipefail\n{block}"))
            .env("PATH", &path)
            .env("HOME", env.home.path())
            .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
            .env("XDG_DATA_HOME", env.home.path().join(".local/share"))
            .current_dir(env.home.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("CATOPS_") || key == "NO_COLOR" {
                cmd.env_remove(key);
            }
        }
        let output = cmd.output().expect("bash runs");
        assert!(
            output.status.success(),
            "README.md line {line}: the example failed ({})\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 10, "ran only {ran} blocks");
}

#[test]
fn blocks_are_found_with_their_lines() {
    let text = "intro\n```sh\ncatops a\ncatops b\n```\n```shell\nnot run\n```\n```sh\nc\n```\n";
    assert_eq!(
        sh_blocks(text),
        vec![
            (2, "catops a\ncatops b\n".to_string()),
            (9, "c\n".to_string())
        ]
    );
}

/// The README and docs/ stand on their own for someone who has only the repository: no word
/// of files outside it, and every relative link leads to a file in it.
#[test]
fn the_readme_and_docs_refer_only_to_files_in_the_repository() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![repo.join("README.md")];
    for entry in std::fs::read_dir(repo.join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    assert!(pages.len() >= 2, "docs/ has the reference");
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for outside in ["../shared", "SPEC.md", "VENDOR-APIS", "/work/"] {
            assert!(
                !text.contains(outside),
                "{} mentions {outside}",
                page.display()
            );
        }
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap();
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap();
            assert!(
                page.parent().unwrap().join(file).exists(),
                "{} links to {target}, which is not in the repository",
                page.display()
            );
        }
    }
}
