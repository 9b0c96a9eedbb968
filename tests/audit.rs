//! `pgadvise audit` against real workloads: exit codes for a healthy database,
//! one with missing indexes, and errors; baselines that accept today's findings
//! and catch a new one; the SARIF and GitHub outputs' structure.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::scenarios::{self, HOT_CALLS};
use support::{run_in, text};

#[tokio::test]
async fn audit_passes_a_healthy_database_and_fails_on_missing_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = scenarios::s5_healthy().await;
    let out = run_in(dir.path(), &["audit", &healthy.db.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "S5 must pass:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("audit passed"),
        "{}",
        text(&out.stdout)
    );

    let feed = scenarios::s1_soft_deleted_feed().await;
    let out = run_in(dir.path(), &["audit", &feed.db.url]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "S1 must fail:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("audit failed"), "{stdout}");
    for table in ["public.messages", "public.content"] {
        assert!(
            stdout.contains(&format!("missing-index {table}")),
            "{table} missing from:\n{stdout}"
        );
    }

    // The same findings under a stricter and a laxer threshold.
    let out = run_in(
        dir.path(),
        &["audit", "--fail-on", "critical", &feed.db.url],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--fail-on",
            "low",
            "--format",
            "json",
            &feed.db.url,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let missing: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "missing-index")
        .collect();
    assert_eq!(missing.len(), 3, "one finding per S1 index: {missing:?}");

    // The threshold also comes from pgadvise.toml; the command line wins over it.
    std::fs::write(
        dir.path().join("pgadvise.toml"),
        "[audit]\nfail_on = \"critical\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["audit", &feed.db.url]);
    assert_eq!(out.status.code(), Some(0), "fail_on from the file");
    let out = run_in(dir.path(), &["audit", "--fail-on", "high", &feed.db.url]);
    assert_eq!(out.status.code(), Some(1), "the flag wins");
    std::fs::write(
        dir.path().join("pgadvise.toml"),
        "[ignore]\ntables = [\"messages\", \"content\"]\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["audit", &feed.db.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "ignored tables: {}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn audit_errors_exit_with_their_own_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: cannot connect.
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--connect-timeout",
            "2s",
            "postgresql://postgres@127.0.0.1:1/postgres",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // Bad arguments and bad files: usage errors.
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--fail-on",
            "urgent",
            "postgresql://x@127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let bad = dir.path().join("baseline.json");
    std::fs::write(&bad, "not json").unwrap();
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--baseline",
            bad.to_str().unwrap(),
            "postgresql://x@127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("baseline"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        dir.path().join("pgadvise.toml"),
        "[audit]\nfail_on = \"soon\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["audit", "postgresql://x@127.0.0.1:1/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("fail_on"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn baseline_accepts_todays_findings_and_catches_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let feed = scenarios::s1_soft_deleted_feed().await;
    let baseline = dir.path().join("pgadvise-baseline.json");
    let baseline = baseline.to_str().unwrap();

    let out = run_in(
        dir.path(),
        &["audit", "--write-baseline", baseline, &feed.db.url],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "writing a baseline does not hide today's findings"
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(baseline).unwrap()).unwrap();
    // Every finding of today's run is accepted: S1's three missing indexes
    // among them, and nothing from a rule S1 does not trigger.
    let accepted = written["findings"].as_array().unwrap();
    let missing: Vec<&str> = accepted
        .iter()
        .filter(|f| f["rule"] == "missing-index")
        .map(|f| f["object"].as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 3, "{written:#}");
    assert!(
        accepted
            .iter()
            .all(|f| ["missing-index", "seq-scan-heavy"].contains(&f["rule"].as_str().unwrap())),
        "{written:#}"
    );

    let out = run_in(dir.path(), &["audit", "--baseline", baseline, &feed.db.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "accepted findings pass:\n{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains(&format!("{} accepted by the baseline", accepted.len())),
        "{}",
        text(&out.stdout)
    );

    // More traffic on the old findings (numbers drift) and a new hot query on a new table.
    let app = feed.db.client().await;
    app.batch_execute(
        "CREATE TABLE audit_events (id bigint PRIMARY KEY, actor_id int NOT NULL, action text NOT NULL, at timestamptz NOT NULL);
         INSERT INTO audit_events SELECT g, 1 + g % 2000, 'login', timestamptz '2024-01-01' + g * interval '1 minute'
         FROM generate_series(1, 60000) g;
         ANALYZE audit_events;",
    )
    .await
    .unwrap();
    let by_actor = app
        .prepare("SELECT * FROM audit_events WHERE actor_id = $1 ORDER BY at DESC LIMIT 10")
        .await
        .unwrap();
    let feed_query = app.prepare(scenarios::S1_MESSAGES_BY_USER).await.unwrap();
    for i in 0..HOT_CALLS as i32 * 2 {
        app.query(&by_actor, &[&(1 + i % 2000)]).await.unwrap();
        app.query(&feed_query, &[&(1 + i % 1000)]).await.unwrap();
    }

    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--baseline",
            baseline,
            "--format",
            "github",
            &feed.db.url,
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the new finding fails:\n{stdout}"
    );
    // Only what is new is annotated: the new table's findings, the missing
    // index among them as an error; nothing about the accepted tables.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "{stdout}");
    assert!(
        lines.iter().all(|l| l.contains("public.audit_events")),
        "only the new table's findings are annotated:\n{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error title=") && l.contains("missing-index")),
        "{stdout}"
    );
}

#[tokio::test]
async fn sarif_output_has_the_required_structure() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = scenarios::s2_transactional_outbox().await;
    let out = run_in(
        dir.path(),
        &[
            "audit",
            "--format",
            "sarif",
            "--fail-on",
            "critical",
            &outbox.db.url,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "pgadvise");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let rules: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = rules.iter().copied().collect();
    assert_eq!(
        unique.len(),
        rules.len(),
        "one rule per finding kind: {rules:?}"
    );
    let results = run["results"].as_array().unwrap();
    assert!(
        results.len() >= 2,
        "S2 has two missing indexes: {results:?}"
    );
    let mut tables = BTreeSet::new();
    for r in results {
        let rule = r["ruleId"].as_str().unwrap();
        assert!(rules.contains(&rule), "{rule} is not among the rules");
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], rule);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let fingerprint = r["partialFingerprints"]["pgadvise/v1"].as_str().unwrap();
        assert!(
            fingerprint.starts_with(&format!("{rule}:")),
            "{fingerprint}"
        );
        let logical = &r["locations"][0]["logicalLocations"][0];
        tables.insert(logical["fullyQualifiedName"].as_str().unwrap().to_string());
    }
    assert!(tables.contains("public.outbox_events"), "{tables:?}");
    assert!(tables.contains("public.processed_messages"), "{tables:?}");
}
