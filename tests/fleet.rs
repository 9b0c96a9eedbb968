//! `pgadvise audit` of a fleet against real databases: a targets file and
//! `[[targets]]` in pgadvise.toml, two reachable databases with different
//! workloads and one that is not, audited concurrently; the summary, the JSON
//! and SARIF documents, GitHub annotations, the report folder and its index,
//! the worst exit code, and no password anywhere.

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::scenarios;
use support::{run_in, text};

/// Characters that need percent-encoding in a URL.
const PASSWORD: &str = "Fl33t!s3cr3t#P@ss";
const PASSWORD_ENCODED: &str = "Fl33t%21s3cr3t%23P%40ss";

/// `url` with `PASSWORD` after its user: the test server's superuser logs in
/// by trust, so the password goes along unused, as a secret in a target list would.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, host) = rest.split_once('@').expect("a URL with a user");
    format!("{scheme}://{user}:{PASSWORD_ENCODED}@{host}")
}

/// A local port nothing listens on: connecting is refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_no_password(what: &str, output: &str) {
    assert!(
        !output.contains(PASSWORD) && !output.contains(PASSWORD_ENCODED),
        "password in {what}:\n{output}"
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_fleet_with_an_unreachable_target_reports_every_target_and_the_worst_exit() {
    let feed = scenarios::s1_soft_deleted_feed().await;
    let healthy = scenarios::s5_healthy().await;
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let down_url =
        format!("postgresql://fleet:{PASSWORD_ENCODED}@127.0.0.1:{port}/gone?connect_timeout=3");
    let healthy_url = with_password(&healthy.db.url);
    let targets = dir.path().join("targets.txt");
    std::fs::write(
        &targets,
        format!(
            "# the nightly fleet\n\nfeed: {}\n{healthy_url}\n   \ndown: {down_url}\n",
            feed.db.url
        ),
    )
    .unwrap();
    let healthy_name = format!("{}/{}", host_port_of(&healthy.db.url), healthy.db.name);
    let report_dir = dir.path().join("fleet-report");
    let mut outputs = Vec::new();

    // Text, the default --jobs, with the report folder.
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--targets",
            "targets.txt",
            "--report",
            report_dir.to_str().unwrap(),
        ],
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the unreachable target's exit 3 is the worst:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.starts_with(
            "pgadvise audit of 3 target(s), fail on high: 1 passed, 1 failed, 1 not audited"
        ),
        "{stdout}"
    );
    let row = |name: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let feed_row = row("feed");
    let proposals: usize = feed_row[1].parse().unwrap();
    assert!(proposals >= 3, "S1's three indexes: {feed_row:?}");
    assert_eq!(feed_row[6], "1", "{feed_row:?}");
    assert_eq!(feed_row[7], "failed:", "{feed_row:?}");
    let high: usize = feed_row[3].parse().unwrap();
    let critical: usize = feed_row[2].parse().unwrap();
    assert!(high + critical >= 1, "{feed_row:?}");
    let healthy_row = row(&healthy_name);
    // No proposal, nothing at or above high: it passes (a low finding may stand).
    assert_eq!(
        [1, 2, 3, 6, 7].map(|i| healthy_row[i].as_str()),
        ["0", "0", "0", "0", "passed"],
        "{stdout}"
    );
    let down_row = row("down");
    assert_eq!(
        &down_row[1..9],
        ["-", "-", "-", "-", "-", "3", "not", "audited:"]
    );
    assert!(
        stdout.contains(
            "  not audited:\n    down (exit 3):\n      cannot connect to fleet@127.0.0.1"
        ),
        "{stdout}"
    );
    for name in ["feed", healthy_name.as_str(), "down"] {
        assert!(
            stderr.contains(&format!("pgadvise: [{name}] ")),
            "each target's end on stderr:\n{stderr}"
        );
    }
    outputs.push(("text stdout".to_string(), stdout.clone()));
    outputs.push(("text stderr".to_string(), stderr));

    // The report folder: an index linking each audited target's own report.
    let index = std::fs::read_to_string(report_dir.join("index.html")).unwrap();
    let healthy_slug = pgadvise::fleet::slug(&healthy_name);
    for slug in ["feed", healthy_slug.as_str()] {
        let link = format!("href=\"{slug}/report.html\"");
        assert!(index.contains(&link), "{link} not in the index:\n{index}");
        let page = std::fs::read_to_string(report_dir.join(slug).join("report.html")).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"), "{slug}");
    }
    let feed_page = std::fs::read_to_string(report_dir.join("feed/report.html")).unwrap();
    assert!(
        feed_page.contains("public.messages"),
        "S1's report names its table"
    );
    assert!(
        !report_dir.join("down").exists(),
        "no folder for a target not audited"
    );
    assert!(index.contains("down: not audited (exit 3)"), "{index}");
    assert!(index.contains("Content-Security-Policy") && !index.contains("<script"));
    // The index page declares the same policy as each target's report.
    let policy = |html: &str| -> Option<String> {
        let start = html.find("http-equiv=\"Content-Security-Policy\" content=\"")?;
        let rest = &html[start..];
        let open = rest.find("content=\"")? + "content=\"".len();
        let close = rest[open..].find('"')?;
        Some(rest[open..open + close].to_string())
    };
    let report_page = std::fs::read_to_string(report_dir.join("shop").join("report.html"))
        .or_else(|_| {
            std::fs::read_dir(&report_dir)?
                .filter_map(Result::ok)
                .map(|e| e.path().join("report.html"))
                .find(|p| p.exists())
                .map(std::fs::read_to_string)
                .unwrap_or_else(|| Err(std::io::Error::other("no target report")))
        })
        .expect("a target's report");
    assert_eq!(policy(&index), policy(&report_page), "{index}");
    assert!(policy(&index).is_some());

    // JSON, one target at a time.
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--targets",
            "targets.txt",
            "--jobs",
            "1",
            "--format",
            "json",
            "--save-snapshot",
            "snapshots",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("the fleet JSON document");
    assert_eq!(doc["fleet_format_version"], 1);
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(doc["fail_on"], "high");
    let targets_json = doc["targets"].as_array().unwrap();
    let names: Vec<&str> = targets_json
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["feed", healthy_name.as_str(), "down"],
        "listed order"
    );
    let feed_json = &targets_json[0];
    assert_eq!(feed_json["status"], "failed");
    assert_eq!(feed_json["exit_code"], 1);
    let indexes = feed_json["report"]["indexes"].as_array().unwrap();
    assert_eq!(feed_json["proposals"], indexes.len());
    for table in ["public.messages", "public.content"] {
        assert!(
            indexes.iter().any(|i| i["table"] == table),
            "no proposal on {table}: {indexes:#?}"
        );
    }
    assert!(feed_json["failing_findings"].as_u64().unwrap() >= 1);
    let healthy_json = &targets_json[1];
    assert_eq!(healthy_json["status"], "passed");
    assert_eq!(healthy_json["exit_code"], 0);
    assert_eq!(healthy_json["proposals"], 0);
    assert_eq!(
        healthy_json["report"]["indexes"].as_array().unwrap().len(),
        0
    );
    let down_json = &targets_json[2];
    assert_eq!(down_json["status"], "not audited");
    assert_eq!(down_json["exit_code"], 3);
    assert!(down_json["report"].is_null());
    let reason = down_json["error"].as_str().unwrap();
    assert!(
        reason.contains("cannot connect") && reason.contains(&format!("127.0.0.1:{port}")),
        "{reason}"
    );
    // --save-snapshot names a folder: one snapshot per audited target.
    for (slug, database) in [
        ("feed", &feed.db.name),
        (healthy_slug.as_str(), &healthy.db.name),
    ] {
        let path = dir.path().join("snapshots").join(format!("{slug}.json"));
        let snapshot: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            &snapshot["source"]["database"],
            database.as_str(),
            "{}",
            path.display()
        );
    }
    assert!(!dir.path().join("snapshots/down.json").exists());
    outputs.push(("json".to_string(), text(&out.stdout)));
    outputs.push(("json stderr".to_string(), text(&out.stderr)));

    // SARIF: one run per target, told apart by automationDetails.
    let out = run_in(
        dir.path(),
        &["audit", "--targets", "targets.txt", "--format", "sarif"],
    );
    assert_eq!(out.status.code(), Some(3));
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF");
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let ids: Vec<&str> = runs
        .iter()
        .map(|r| r["automationDetails"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "pgadvise/feed/".to_string(),
            format!("pgadvise/{healthy_slug}/"),
            "pgadvise/down/".to_string()
        ]
    );
    let feed_results = runs[0]["results"].as_array().unwrap();
    assert!(
        feed_results
            .iter()
            .filter(|r| r["ruleId"] == "missing-index")
            .count()
            >= 3,
        "{feed_results:#?}"
    );
    assert!(
        !runs[1]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "missing-index" || r["level"] == "error"),
        "{:#}",
        runs[1]
    );
    assert_eq!(runs[2]["invocations"][0]["executionSuccessful"], false);
    assert_eq!(runs[2]["invocations"][0]["exitCode"], 3);
    outputs.push(("sarif".to_string(), text(&out.stdout)));

    // GitHub annotations, each titled with its target.
    let out = run_in(
        dir.path(),
        &["audit", "--targets", "targets.txt", "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(3));
    let annotations = text(&out.stdout);
    assert!(
        annotations
            .lines()
            .any(|l| l.starts_with("::error title=[feed] pgadvise missing-index")),
        "{annotations}"
    );
    assert!(
        annotations
            .lines()
            .any(|l| l.starts_with("::error title=[down] pgadvise%3A not audited::cannot connect")),
        "{annotations}"
    );
    outputs.push(("github".to_string(), annotations));

    for (what, output) in &outputs {
        assert_no_password(what, output);
    }
    for file in files_under(&report_dir)
        .into_iter()
        .chain(files_under(&dir.path().join("snapshots")))
    {
        assert_no_password(
            &file.display().to_string(),
            &std::fs::read_to_string(&file).unwrap(),
        );
    }
}

/// `host:port` of the test server's `postgresql://user@host:port/db` URL, with the user.
fn host_port_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest.split('/').next().unwrap().to_string()
}

#[tokio::test]
async fn targets_are_audited_concurrently() {
    // Two servers that accept the connection and never answer: each target
    // waits for its connect_timeout. Two at a time take one timeout, one at a
    // time two.
    let silent: Vec<std::net::TcpListener> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let lines: String = silent
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "silent{i}: host=127.0.0.1 port={} dbname=x user=u connect_timeout=2\n",
                l.local_addr().unwrap().port()
            )
        })
        .collect();
    std::fs::write(dir.path().join("targets.txt"), lines).unwrap();
    let timed = |jobs: &str| {
        let start = Instant::now();
        let out = run_in(
            dir.path(),
            &[
                "audit",
                "--targets",
                "targets.txt",
                "--jobs",
                jobs,
                "--format",
                "json",
            ],
        );
        let elapsed = start.elapsed();
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        for t in doc["targets"].as_array().unwrap() {
            assert_eq!(t["exit_code"], 3, "{t:#}");
            assert!(t["error"].as_str().unwrap().contains("timed out"), "{t:#}");
        }
        elapsed
    };
    let together = timed("2");
    let one_by_one = timed("1");
    assert!(
        together < Duration::from_millis(3500),
        "two targets at a time took {together:?}"
    );
    assert!(
        one_by_one >= Duration::from_secs(4),
        "one at a time took {one_by_one:?}"
    );
}

#[tokio::test]
async fn targets_in_pgadvise_toml_have_their_own_pools_and_baselines() {
    let feed = scenarios::s1_soft_deleted_feed().await;
    let healthy = scenarios::s5_healthy().await;
    let dir = tempfile::tempdir().unwrap();
    // Today's findings of the feed, accepted by its own baseline.
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--write-baseline",
            "feed-baseline.json",
            &feed.db.url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // A database without pg_stat_statements: that target stops with exit 4.
    let bare = format!("pgadvise_fleet_bare_{}", std::process::id());
    support::connect(&support::server().url("postgres"))
        .await
        .batch_execute(&format!("CREATE DATABASE \"{bare}\""))
        .await
        .unwrap();
    std::fs::write(
        dir.path().join("pgadvise.toml"),
        format!(
            "[audit]\njobs = 2\n[pool]\nsample_window = \"1s\"\n\n\
             [[targets]]\nname = \"feed\"\ndatabase_url = \"{}\"\nbaseline = \"feed-baseline.json\"\n\n\
             [[targets]]\nname = \"healthy\"\ndatabase_url = \"{}\"\n\
             [targets.pools.api]\ninstances = 4\nsize = 500\n\n\
             [[targets]]\nname = \"bare\"\ndatabase_url = \"{}\"\n",
            feed.db.url,
            with_password(&healthy.db.url),
            support::server().url(&bare)
        ),
    )
    .unwrap();
    let out = run_in(dir.path(), &["audit", "--format", "json"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the missing extension's exit 4 is the worst:\n{stderr}"
    );
    assert_no_password("stdout", &text(&out.stdout));
    assert_no_password("stderr", &stderr);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    let bare_json = &targets[2];
    assert_eq!(bare_json["status"], "not audited", "{bare_json:#}");
    assert_eq!(bare_json["exit_code"], 4);
    assert!(
        bare_json["error"]
            .as_str()
            .unwrap()
            .contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"),
        "{bare_json:#}"
    );
    let feed_json = &targets[0];
    assert_eq!(feed_json["name"], "feed");
    assert_eq!(feed_json["status"], "passed", "{feed_json:#}");
    assert!(feed_json["accepted_findings"].as_u64().unwrap() >= 3);
    assert!(
        feed_json["report"]["pool"].is_null(),
        "no pools for the feed, no verdict"
    );
    let healthy_json = &targets[1];
    assert_eq!(healthy_json["name"], "healthy");
    assert_eq!(healthy_json["status"], "failed", "{healthy_json:#}");
    let findings = healthy_json["report"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["rule"] == "pool-budget-exceeded"),
        "{findings:#?}"
    );
    assert!(!healthy_json["report"]["pool"].is_null());

    // A connection on the command line audits that database alone.
    let out = run_in(dir.path(), &["audit", "--format", "json", &healthy.db.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let single: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        single["format_version"], 1,
        "the scan document, not a fleet"
    );
    assert!(single.get("targets").is_none());
}

#[test]
fn a_fleet_refuses_single_database_files_and_bad_target_lists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.txt"), "# nothing yet\n\n").unwrap();
    std::fs::write(dir.path().join("bad.txt"), "postgresql://a@h/d\nbilling:\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["audit", "--targets", "empty.txt"],
            "no targets to audit: the targets file empty.txt lists none",
        ),
        (
            &["audit", "--targets", "bad.txt"],
            "targets file bad.txt: line 2: 'billing:' names no connection",
        ),
        (
            &["audit", "--targets", "missing.txt"],
            "reading missing.txt",
        ),
        (
            &["audit", "--targets", "empty.txt", "--pr-body", "pr.md"],
            "--pr-body writes one file for one database",
        ),
    ];
    for (args, message) in cases {
        let out = run_in(dir.path(), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let out = run_in(
        dir.path(),
        &["audit", "--targets", "empty.txt", "postgresql://a@h/d"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a targets file and a connection conflict"
    );
}
