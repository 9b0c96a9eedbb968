//! The HTML report and the PR body from a real scan: the page renders in
//! headless Chromium without console errors, holds every section, and needs
//! nothing from the network; the PR body names each migration and says how to
//! verify and roll back.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::pgadvise;
use support::scenarios;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Chromium, or a loud failure that says how to install it.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PGADVISE_TEST_CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "\n\nthe HTML report test needs headless Chromium:\n  \
         scripts/setup installs it (Debian/Ubuntu: apt-get install -y chromium chromium-driver)\n  \
         or set PGADVISE_TEST_CHROMIUM=/path/to/chrome\n"
    );
}

/// Runs headless Chromium on `page` with `extra` arguments; returns (stdout, stderr).
fn headless(page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1366,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn html_report_renders_in_chromium_with_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let feed = scenarios::s1_soft_deleted_feed().await;
    let report = dir.path().join("report.html");
    let pr_body = dir.path().join("pr.md");
    let out = pgadvise()
        .current_dir(dir.path())
        .args(["scan", "--quiet", "--sample-window", "1s"])
        .arg("--report")
        .arg(&report)
        .arg("--pr-body")
        .arg(&pr_body)
        .arg(&feed.db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();

    // Self-contained: no scripts, stylesheets, images or fonts from elsewhere.
    for external in ["<script", "<link", "<img", "@import", "url(", "src="] {
        assert!(!html.contains(external), "the report references {external}");
    }

    let profile = dir.path().join("chromium-profile");
    let (dom, log) = headless(&report, &profile, &["--dump-dom"]);
    for section in [
        "id=\"summary\"",
        "id=\"indexes\"",
        "id=\"drops\"",
        "id=\"pool\"",
        "id=\"findings\"",
    ] {
        assert!(
            dom.contains(section),
            "{section} missing from the rendered page"
        );
    }
    // The three S1 indexes, with their statements and the verification numbers.
    for index in [
        "messages_conversation_id_created_at_deleted_at_null_idx",
        "messages_user_id_created_at_deleted_at_null_idx",
        "content_user_id_created_at_deleted_at_null_idx",
    ] {
        assert!(dom.contains(index), "{index} missing");
    }
    assert!(
        dom.contains("ORDER BY created_at DESC LIMIT"),
        "statements missing"
    );
    assert!(dom.contains("Connection budget"), "pool verdict missing");
    assert!(dom.contains("missing-index"), "findings missing");
    if feed.db.has_hypopg {
        assert!(dom.contains("Seq Scan on messages"), "plan before missing");
        assert!(dom.contains("(hypothetical)"), "plan after missing");
    }
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");

    // A screenshot at laptop width: rendered, not blank.
    let shot = dir.path().join("report.png");
    headless(
        &report,
        &profile,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        png.len()
    );

    let body = std::fs::read_to_string(&pr_body).unwrap();
    for needed in [
        "messages_user_id_created_at_deleted_at_null_idx",
        "CREATE INDEX CONCURRENTLY",
        "pgadvise verify migrations-out",
        "### Rollback",
        "DROP INDEX CONCURRENTLY IF EXISTS",
    ] {
        assert!(
            body.contains(needed),
            "{needed} missing from the PR body:\n{body}"
        );
    }
}

/// The README's first command: a throwaway server, the demo workload, the
/// report folder; the server is gone afterwards.
#[test]
fn demo_writes_a_report_of_every_kind_of_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let mut cmd = pgadvise();
    cmd.current_dir(dir.path())
        .args(["demo", "--out-dir"])
        .arg(&out_dir);
    // With a server of the developer's own, the demo runs there instead.
    if let Ok(url) = std::env::var("PGADVISE_TEST_DATABASE_URL") {
        cmd.args(["--database-url", &url]);
    }
    let started = std::time::Instant::now();
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        started.elapsed().as_secs() < 90,
        "the demo took {:?}",
        started.elapsed()
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("report.html"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let tables: Vec<&str> = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["table"].as_str().unwrap())
        .collect();
    for table in [
        "public.messages",
        "public.content",
        "public.outbox_events",
        "public.processed_messages",
        "public.traffic_events",
    ] {
        assert!(
            tables.contains(&table),
            "no index proposed on {table}: {tables:?}"
        );
    }
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "missing-index",
        "pool-budget-exceeded",
        "idle-in-transaction",
        "duplicate-index",
        "fk-without-index",
        "offset-pagination",
    ] {
        assert!(rules.contains(&rule), "no {rule} finding: {rules:?}");
    }
    // A migration per verified proposal, and one for the duplicate's drop.
    let migrations: Vec<String> = std::fs::read_dir(out_dir.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let verified = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["verified"] == true)
        .count();
    let ups = |verb: &str| {
        migrations
            .iter()
            .filter(|m| {
                m.contains(&format!("_{verb}_")) && !m.contains(".down.") && !m.contains(".verify.")
            })
            .count()
    };
    assert_eq!(ups("add"), verified, "{migrations:?}");
    assert_eq!(
        ups("drop"),
        report["drops"].as_array().unwrap().len(),
        "{migrations:?}"
    );
    assert!(ups("drop") >= 1, "{migrations:?}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("Connection budget"),
        "pool verdict missing from the page"
    );
    // Where each application's time goes, what limits it, and the server's cores.
    for needed in [
        "Where the time goes",
        "Limit:",
        "sessions on CPU server-wide",
    ] {
        assert!(html.contains(needed), "{needed} missing from the page");
    }
    let pr = std::fs::read_to_string(out_dir.join("pull-request.md")).unwrap();
    for needed in [
        "### Connection pools",
        "where the time goes",
        "| `worker` |",
    ] {
        assert!(
            pr.contains(needed),
            "{needed} missing from the PR body:\n{pr}"
        );
    }
    // Each drop has its card, with the DROP and the rollback that recreates it.
    for drop in report["drops"].as_array().unwrap() {
        let index = drop["index"].as_str().unwrap();
        assert!(
            html.contains(&format!("id=\"drop-{index}\"")),
            "no card for the drop of {index}"
        );
    }
    assert!(html.contains("DROP INDEX CONCURRENTLY IF EXISTS"));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Results with a migration point at its file: the indexes' and the drops'.
    let located: Vec<(String, String)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str()?;
            Some((r["ruleId"].as_str()?.to_string(), uri.to_string()))
        })
        .collect();
    // Without hypopg (the version matrix) no proposal is verified, so none
    // gets a migration; the drop still does.
    let mut expect_files = vec![("duplicate-index", "_drop_")];
    if verified > 0 {
        expect_files.push(("missing-index", "_add_"));
    }
    for (rule, verb) in expect_files {
        let (_, uri) = located
            .iter()
            .find(|(r, _)| r == rule)
            .unwrap_or_else(|| panic!("no {rule} result with a file: {located:?}"));
        assert!(uri.contains(verb) && !uri.contains(".down."), "{uri}");
        assert!(dir.path().join(uri).is_file(), "{uri} does not exist");
    }
    let body = std::fs::read_to_string(out_dir.join("pull-request.md")).unwrap();
    assert!(body.contains("### Rollback"));
    // The pull request explains every migration it carries, the drops too.
    assert!(body.contains("### Indexes dropped or rebuilt"), "{body}");
    for drop in report["drops"].as_array().unwrap() {
        let index = drop["index"].as_str().unwrap();
        assert!(
            body.contains(&format!("`{index}`")),
            "{index} missing:\n{body}"
        );
    }
}
