//! The index advisor on the production scenarios, run as a user runs it:
//! `pgadvise scan --format json` against a database that ran the workload.
//! Exactly the expected indexes, nothing else.

mod support;

use serde_json::Value;
use support::pgadvise;
use support::scenarios::{self, ExpectedIndex, KeyMatch, Scenario};

fn scan_json(scenario: &Scenario, extra: &[&str]) -> Value {
    let out = pgadvise()
        .args(["scan", "--format", "json"])
        .args(extra)
        .arg(&scenario.db.url)
        .output()
        .expect("running pgadvise");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// `created_at DESC` for a descending key, as the report writes it.
fn key_label(column: &str, descending: bool) -> String {
    if descending {
        format!("{column} DESC")
    } else {
        column.to_string()
    }
}

fn matches(expected: &ExpectedIndex, proposal: &Value) -> bool {
    let table = proposal["table"].as_str().unwrap_or_default();
    if table != format!("public.{}", expected.table) {
        return false;
    }
    let columns: Vec<String> = proposal["columns"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let wanted: Vec<String> = expected
        .keys
        .iter()
        .map(|k| key_label(k.column, k.descending))
        .collect();
    let keys_ok = match expected.key_match {
        KeyMatch::Exact => columns == wanted,
        KeyMatch::AnyOrder => {
            let mut a = columns.clone();
            let mut b = wanted.clone();
            a.sort();
            b.sort();
            a == b
        }
        KeyMatch::Leading => columns.starts_with(&wanted),
    };
    keys_ok && proposal["where"].as_str() == expected.predicate
}

/// Every expected index proposed once, each serving its hot queries, and no other proposal.
fn assert_exact_advice(scenario: &Scenario, report: &Value) {
    let proposals = report["indexes"].as_array().expect("indexes array");
    for expected in &scenario.expected_indexes {
        let found: Vec<&Value> = proposals.iter().filter(|p| matches(expected, p)).collect();
        assert_eq!(
            found.len(),
            1,
            "{}: expected exactly one {expected:?}, proposals: {report:#}",
            scenario.name
        );
        let queries = found[0]["queries"].as_array().unwrap();
        for sql in expected.serves {
            let text = &scenario.hot_query(sql).text;
            assert!(
                queries.iter().any(|q| q.as_str() == Some(text)),
                "{}: {text} not among the queries of {:#}",
                scenario.name,
                found[0]
            );
        }
        // Verified with hypopg where the server has it, and then it pays;
        // unverified (never silently dropped) where it has not.
        let p = found[0];
        if scenario.db.has_hypopg {
            assert_eq!(p["verified"], true, "{p:#}");
            let before = p["cost_before"].as_f64().unwrap();
            let after = p["cost_after"].as_f64().unwrap();
            assert!(after * 2.0 <= before, "cost {before} -> {after}: {p:#}");
            assert!(p["estimated_time_saved_ms"].as_f64().unwrap() > 0.0);
        } else {
            assert_eq!(p["verified"], false, "{p:#}");
            assert!(p["cost_before"].is_null());
        }
        let ddl = found[0]["ddl"].as_str().unwrap();
        assert!(
            ddl.starts_with("CREATE INDEX CONCURRENTLY IF NOT EXISTS "),
            "{ddl}"
        );
    }
    assert_eq!(
        proposals.len(),
        scenario.expected_indexes.len(),
        "{}: unexpected extra proposals: {report:#}",
        scenario.name
    );
}

#[tokio::test]
async fn s1_soft_deleted_feed() {
    let s = scenarios::s1_soft_deleted_feed().await;
    let report = scan_json(&s, &[]);
    assert_exact_advice(&s, &report);
}

#[tokio::test]
async fn s2_transactional_outbox() {
    let s = scenarios::s2_transactional_outbox().await;
    let report = scan_json(&s, &[]);
    assert_exact_advice(&s, &report);
    let outbox = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.outbox_events")
        .expect("outbox index");
    // The partial index is a small fraction of a full index on created_at.
    let partial = outbox["estimated_size_bytes"].as_i64().unwrap();
    let full = outbox["full_index_size_bytes"].as_i64().unwrap();
    assert!(partial * 20 < full, "partial {partial} vs full {full}");

    // An index the planner would not use (4 consumer groups: a quarter of the
    // table each) is dropped by verification, and the text output says why.
    if s.db.has_hypopg {
        let unselective = "SELECT * FROM processed_messages WHERE consumer_group = $1";
        let report = scan_json(&s, &["--query", unselective]);
        assert_exact_advice(&s, &report);
        let out = pgadvise()
            .args(["scan", "--query", unselective])
            .arg(&s.db.url)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("not proposed after verification: processed_messages_consumer_group_idx"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn s3_archive_export() {
    let s = scenarios::s3_archive_export().await;
    let report = scan_json(&s, &[]);
    assert_exact_advice(&s, &report);
}

#[tokio::test]
async fn s5_healthy_database_gets_no_proposal() {
    let s = scenarios::s5_healthy().await;
    let report = scan_json(&s, &[]);
    assert_eq!(report["indexes"], serde_json::json!([]), "{report:#}");
    assert!(report["statements_analyzed"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn given_queries_are_advised_and_table_filters_apply() {
    let s = scenarios::s5_healthy().await;
    // A query that has not run in production yet, with a literal.
    let client = s.db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_stat_user_tables ORDER BY relname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let table = tables.first().expect("S5 has tables").clone();
    let columns: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 \
             AND NOT attisdropped AND NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = attrelid \
             AND attnum = ANY(indkey)) ORDER BY attnum",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let column = columns.first().expect("an unindexed column").clone();
    let query = format!("SELECT * FROM {table} WHERE {column} = 42");
    // Whether an index on an arbitrary column pays depends on its data: this
    // test is about the inputs, so it skips verification.
    let report = scan_json(&s, &["--no-verify", "--query", &query]);
    let proposals = report["indexes"].as_array().unwrap();
    assert_eq!(proposals.len(), 1, "{report:#}");
    assert_eq!(proposals[0]["columns"], serde_json::json!([column]));
    assert_eq!(proposals[0]["verified"], false);
    assert_eq!(proposals[0]["queryids"], serde_json::json!([-1]));

    let excluded = scan_json(
        &s,
        &["--no-verify", "--query", &query, "--exclude-table", &table],
    );
    assert_eq!(excluded["indexes"], serde_json::json!([]));
}
