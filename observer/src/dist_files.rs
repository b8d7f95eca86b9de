//! The man pages and shell completions shipped in `dist/`, generated from the clap definitions in
//! `cli.rs` (clap_mangen, clap_complete) — never written by hand. The test below regenerates them
//! and fails when the checked-in files differ, so a new option cannot ship undocumented;
//! `UPDATE_DIST=1 cargo test -p observer dist_files` (or `cargo xtask dist`) rewrites them.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// Where the generated files live in the repository.
fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Every generated file: its path under `dist/` and its contents.
/// `tag` keeps the scratch directories of tests running in parallel apart.
fn generate(tag: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let scratch = std::env::temp_dir().join(format!("observer-dist-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (man, completions) = (scratch.join("man"), scratch.join("completions"));
    std::fs::create_dir_all(&man).expect("scratch dir");
    std::fs::create_dir_all(&completions).expect("scratch dir");
    // One page per command: observer(1), observer-trace(1), observer-check(1), …
    clap_mangen::generate_to(Cli::command(), &man).expect("man pages");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "observer", &completions)
            .expect("completions");
    }
    let files = read_tree(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    files
}

/// Relative path → contents of every file below `root`.
fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["man", "completions"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = Path::new(sub).join(e.file_name());
            out.insert(rel, std::fs::read(e.path()).expect("read generated file"));
        }
    }
    out
}

#[test]
fn dist_files_match_the_cli() {
    let fresh = generate("sync");
    let dist = dist_dir();
    if std::env::var_os("UPDATE_DIST").is_some() {
        for sub in ["man", "completions"] {
            let _ = std::fs::remove_dir_all(dist.join(sub));
            std::fs::create_dir_all(dist.join(sub)).expect("dist dir");
        }
        for (rel, text) in &fresh {
            std::fs::write(dist.join(rel), text).expect("write dist file");
        }
        return;
    }
    let checked_in = read_tree(&dist);
    let stale: std::collections::BTreeSet<String> = fresh
        .keys()
        .chain(checked_in.keys())
        .filter(|rel| fresh.get(*rel) != checked_in.get(*rel))
        .map(|rel| rel.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "dist/ is out of date with cli.rs ({}); run: UPDATE_DIST=1 cargo test -p observer dist_files (or cargo xtask dist)",
        stale.into_iter().collect::<Vec<_>>().join(", ")
    );
}

/// The generated files name every subcommand and every long option, so the comparison above
/// compares something real.
#[test]
fn man_pages_and_completions_cover_every_option() {
    let fresh = generate("cover");
    let cli = Cli::command();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = fresh
            .get(&PathBuf::from(format!("man/observer-{}.1", sub.get_name())))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| panic!("no man page for {}", sub.get_name()));
        let bash = String::from_utf8_lossy(&fresh[&PathBuf::from("completions/observer.bash")])
            .into_owned();
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                // roff escapes '-' as '\-'.
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(
                    page.contains(&roff),
                    "{long} missing from observer-{}.1",
                    sub.get_name()
                );
                assert!(
                    bash.contains(&format!("--{long}")),
                    "{long} missing from bash completion"
                );
            }
        }
    }
}
