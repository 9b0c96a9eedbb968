//! The demo's output, rendered offline and compared with committed insta
//! snapshots (tests/snapshots/): the text summary, the SARIF document and the
//! PR body. Any change to what they print fails here.
//!
//! The input is tests/fixtures/demo-snapshot.json, the snapshot `pgadvise demo`
//! scans (saved once with `--save-snapshot`; its data directory and port made
//! fixed). Read offline there is no hypopg, so the proposals are unverified.
//! What changes from run to run or release to release is redacted: timestamps,
//! migration file prefixes, the pgadvise version.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test --test demo_output`,
//! then read the diff of the .snap files (or `cargo insta review`, with cargo-insta).

mod support;

use std::path::{Path, PathBuf};
use support::pgadvise;

/// The demo's declared pools and server cores (src/demo.rs): flags, not snapshot data.
const DEMO_SCAN_FLAGS: [&str; 8] = [
    "--pool",
    "api=4x20",
    "--pool",
    "worker=2x10",
    "--pool",
    "admin=1x5",
    "--db-cores",
    "4",
];

fn demo_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-snapshot.json")
}

/// `pgadvise scan --snapshot` of the demo with `args`, run in `dir` so every path
/// it prints is relative; its stdout.
fn scan(dir: &Path, args: &[&str]) -> String {
    let out = pgadvise()
        .current_dir(dir)
        .arg("scan")
        .arg("--snapshot")
        .arg(demo_snapshot())
        .args(DEMO_SCAN_FLAGS)
        .args(args)
        .output()
        .expect("running pgadvise");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Redactions of what is not the output's meaning: when it ran, which release.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    let version = regex_escape(env!("CARGO_PKG_VERSION"));
    for (pattern, replacement) in [
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:\d{2})?)".to_string(),
            "[timestamp]",
        ),
        // Migration files are named after the moment they were written.
        (r"\b\d{14}_".to_string(), "[migration-time]_"),
        (format!(r"pgadvise {version}\b"), "pgadvise [version]"),
        (
            format!(r#""(version|semanticVersion)": "{version}""#),
            r#""$1": "[version]""#,
        ),
        (r"@127\.0\.0\.1:\d+/".to_string(), "@127.0.0.1:[port]/"),
    ] {
        settings.add_filter(&pattern, replacement);
    }
    settings
}

/// Escapes the regex metacharacters a version can hold (`.`, `+`).
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '.' | '+' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[test]
fn text_summary() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let text = scan(dir.path(), &[]);
    settings().bind(|| insta::assert_snapshot!("demo_text", text));
}

#[test]
fn sarif() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sarif = scan(
        dir.path(),
        &["--quiet", "--format", "sarif", "--out", "migrations"],
    );
    settings().bind(|| insta::assert_snapshot!("demo_sarif", sarif));
}

#[test]
fn pr_body() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    scan(
        dir.path(),
        &[
            "--quiet",
            "--pr-body",
            "pull-request.md",
            "--out",
            "migrations",
        ],
    );
    let body = std::fs::read_to_string(dir.path().join("pull-request.md"))
        .expect("the PR body pgadvise wrote");
    settings().bind(|| insta::assert_snapshot!("demo_pr_body", body));
}
