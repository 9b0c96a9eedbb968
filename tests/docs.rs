//! The documentation's commands and configuration are what pgadvise accepts:
//! every `pgadvise ...` command in the README, docs/ and docker/ (shell blocks,
//! CI job scripts, the Kubernetes job's args) parses with the real command
//! line, and every `pgadvise.toml` and baseline they show loads. A renamed
//! flag or key fails here before a reader copies a command that no longer works.
//!
//! No server is needed: nothing is run, only parsed.

use clap::Parser;
use pgadvise::cli::Cli;
use pgadvise::config::Config;
use pgadvise::emit::audit::Baseline;
use std::path::{Path, PathBuf};

const SUBCOMMANDS: &[&str] = &[
    "scan", "audit", "pool", "snapshot", "demo", "verify", "diff",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documentation files, relative to the repository root.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("README.md"),
        PathBuf::from("docker/README.md"),
    ];
    for dir in ["docs", "docs/ci"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The lines of the fenced blocks of a Markdown text whose info string is one
/// of `kinds` (` ```sh `, ` ```toml `...).
fn fenced(markdown: &str, kinds: &[&str]) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match (&mut current, trimmed.strip_prefix("```")) {
            (None, Some(info)) if kinds.contains(&info.trim()) => current = Some(String::new()),
            (Some(block), Some(_)) => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Splits a shell command into words: whitespace outside quotes, single and
/// double quotes removed (enough for the documented commands).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `pgadvise <subcommand> ...` commands of a shell script: continuation
/// lines joined, each command cut at a shell operator, a redirection or a
/// comment.
fn commands_in_script(script: &str) -> Vec<String> {
    // `cargo run --release -- demo` runs pgadvise from a checkout.
    let joined = script
        .replace("\\\n", " ")
        .replace("cargo run --release -- ", "pgadvise ")
        .replace("cargo run -- ", "pgadvise ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("pgadvise ") {
            let before = rest[..at].chars().last();
            let after = &rest[at + "pgadvise ".len()..];
            rest = after;
            // A command starts a line or follows an operator, not a word.
            if !matches!(
                before,
                None | Some(' ' | '\t' | '(' | '`' | '&' | '|' | ';')
            ) {
                continue;
            }
            let Some(sub) = after.split_whitespace().next() else {
                continue;
            };
            if !SUBCOMMANDS.contains(&sub) {
                continue;
            }
            let end = after
                .find(['|', ';', '&', '>', '#', '`'])
                .unwrap_or(after.len());
            out.push(after[..end].trim().to_string());
        }
    }
    out
}

/// Every documented command, with where it was found.
fn documented_commands() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in documents() {
        let text = read(&path);
        let name = path.display().to_string();
        let scripts: Vec<String> = match path.extension().and_then(|e| e.to_str()) {
            Some("md") => fenced(&text, &["sh", "bash", "shell", "console"]),
            Some("yml" | "yaml") => {
                // Job scripts, and the commented commands that explain a job;
                // not prose that names pgadvise.
                let lines: Vec<String> = text
                    .lines()
                    .map(|l| {
                        let l = l.trim_start();
                        let l = l.strip_prefix('#').unwrap_or(l).trim_start();
                        let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
                        l.strip_prefix("run:").unwrap_or(l).trim_start().to_string()
                    })
                    .collect();
                // YAML folded scalars (`- >`) spread one command over lines.
                let mut scripts = Vec::new();
                let mut current = String::new();
                for line in lines {
                    if line.starts_with("pgadvise ") || line.contains("&& pgadvise ") {
                        if !current.is_empty() {
                            scripts.push(std::mem::take(&mut current));
                        }
                        current = line;
                    } else if !current.is_empty() && line.starts_with("--") {
                        current = format!("{} {line}", current.trim_end_matches('\\'));
                    } else if !current.is_empty() {
                        scripts.push(std::mem::take(&mut current));
                    }
                }
                if !current.is_empty() {
                    scripts.push(current);
                }
                // A container's args array: `args: ["audit", "--config", ...]`.
                for line in text.lines() {
                    if let Some(array) = line.trim().strip_prefix("args:") {
                        let words: Vec<String> =
                            serde_json::from_str(array.trim()).unwrap_or_else(|e| {
                                panic!("{name}: args is not a JSON-style array: {e}")
                            });
                        scripts.push(format!("pgadvise {}", words.join(" ")));
                    }
                }
                scripts
            }
            _ => Vec::new(),
        };
        for script in scripts {
            for command in commands_in_script(&script) {
                out.push((name.clone(), command));
            }
        }
    }
    out
}

#[test]
fn every_documented_command_parses() {
    let commands = documented_commands();
    // The extraction itself works: the README's and the CI examples' commands
    // are all found (a broken extractor would pass vacuously).
    for (file, expected) in [
        ("README.md", "demo"),
        ("README.md", "audit --baseline .pgadvise/baseline.json"),
        (
            "README.md",
            "verify migrations-out \"$DATABASE_URL\" --analyze",
        ),
        (
            "docs/ci/github-nightly-audit.yml",
            "audit --quiet --snapshot snapshot.json",
        ),
        (
            "docs/ci/gitlab-nightly-audit.yml",
            "audit --format sarif --report pgadvise-report.html --save-snapshot snapshot.json",
        ),
        (
            "docs/ci/github-migration-pr.yml",
            "scan --quiet --out migrations-out",
        ),
        (
            "docs/ci/kubernetes-cronjob.yaml",
            "audit --config /config/pgadvise.toml",
        ),
        (
            "docs/ci/github-weekly-diff.yml",
            "diff --quiet previous/snapshot.json",
        ),
        (
            "docs/ci/github-nightly-fleet.yml",
            "audit --targets .pgadvise/fleet.txt --jobs 4",
        ),
        ("README.md", "diff before.json after.json"),
    ] {
        assert!(
            commands
                .iter()
                .any(|(f, c)| f == file && c.starts_with(expected)),
            "no `pgadvise {expected}` found in {file}: {commands:#?}"
        );
    }
    let mut failures = Vec::new();
    for (file, command) in &commands {
        let mut words = vec!["pgadvise".to_string()];
        words.extend(shell_words(command));
        if let Err(e) = Cli::try_parse_from(&words) {
            failures.push(format!("{file}: pgadvise {command}\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documented commands do not parse:\n{}",
        failures.len(),
        commands.len(),
        failures.join("\n")
    );
}

#[test]
fn every_documented_configuration_loads() {
    // The README's pgadvise.toml, with every key.
    let readme = read(Path::new("README.md"));
    let tomls = fenced(&readme, &["toml"]);
    assert!(!tomls.is_empty(), "the README shows no pgadvise.toml");
    for toml in &tomls {
        if let Err(e) = Config::parse(toml) {
            panic!("the README's pgadvise.toml does not load: {e}\n{toml}");
        }
    }
    // The Kubernetes ConfigMap's pgadvise.toml and baseline.
    let cronjob = read(Path::new("docs/ci/kubernetes-cronjob.yaml"));
    let block = |key: &str| -> String {
        let mut lines = cronjob
            .lines()
            .skip_while(|l| l.trim() != format!("{key}: |"));
        let header = lines
            .next()
            .unwrap_or_else(|| panic!("no {key} in the ConfigMap"));
        let indent = header.len() - header.trim_start().len();
        lines
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim_start())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let toml = block("pgadvise.toml");
    let config = Config::parse(&toml)
        .unwrap_or_else(|e| panic!("the CronJob's pgadvise.toml does not load: {e}\n{toml}"));
    assert_eq!(config.declared_pools().len(), 1, "{toml}");
    let baseline = block("baseline.json");
    Baseline::parse(&baseline)
        .unwrap_or_else(|e| panic!("the CronJob's baseline.json does not load: {e}\n{baseline}"));
}
