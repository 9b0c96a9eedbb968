//! Index health and query anti-patterns on the production scenarios, run as
//! a user runs them (`pgadvise scan --format json`), and the proposed drops
//! applied for real, one statement at a time outside a transaction.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::pgadvise;
use support::scenarios::{self, Scenario};
use tokio_postgres::Client;

/// psql from PATH, else Debian's; a file run as the migration runbook says.
fn psql_file(url: &str, path: &std::path::Path) -> std::process::Output {
    let psql = ["psql", "/usr/lib/postgresql/15/bin/psql"]
        .into_iter()
        .find(|p| {
            std::process::Command::new(p)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("psql is needed to apply migrations: scripts/setup --minimal (or: apt-get install postgresql-client)");
    std::process::Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(path)
        .output()
        .expect("running psql")
}

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

fn scan_text(scenario: &Scenario, extra: &[&str]) -> String {
    let out = pgadvise()
        .arg("scan")
        .args(extra)
        .arg(&scenario.db.url)
        .output()
        .expect("running pgadvise");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

fn with_rule<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    findings(report)
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

/// (rule, object) of every finding of these rules.
fn rule_objects(report: &Value, rules: &[&str]) -> BTreeSet<(String, String)> {
    findings(report)
        .iter()
        .filter(|f| rules.iter().any(|r| f["rule"] == *r))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The queryid pg_stat_statements gives a text in this database.
async fn queryid(client: &Client, text: &str) -> i64 {
    client
        .query_one(
            "SELECT queryid FROM pg_stat_statements WHERE query = $1 AND dbid = \
             (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&text],
        )
        .await
        .unwrap_or_else(|e| panic!("queryid of {text}: {e}"))
        .get(0)
}

/// Index counters reach the shared statistics shortly after the workload's
/// backend exits: wait until `index` shows scans.
async fn wait_for_index_scans(client: &Client, index: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let scans: i64 = client
            .query_one(
                "SELECT coalesce(sum(idx_scan), 0)::int8 FROM pg_stat_user_indexes WHERE indexrelname = $1",
                &[&index],
            )
            .await
            .unwrap()
            .get(0);
        if scans > 0 || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `table` shows at least `rows` dead rows.
async fn wait_for_dead_rows(client: &Client, table: &str, rows: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let dead: i64 = client
            .query_one(
                "SELECT coalesce(sum(n_dead_tup), 0)::int8 FROM pg_stat_user_tables WHERE relname = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        if dead >= rows || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Names of the indexes that back a constraint (or a foreign key depends on).
async fn constraint_indexes(client: &Client) -> BTreeSet<String> {
    client
        .query(
            "SELECT DISTINCT c.relname::text FROM pg_constraint con JOIN pg_class c ON c.oid = con.conindid \
             WHERE con.conindid <> 0",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// index name -> valid, for the public schema.
async fn indexes(client: &Client) -> std::collections::BTreeMap<String, bool> {
    client
        .query(
            "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

const INDEX_RULES: &[&str] = &[
    "invalid-index",
    "duplicate-index",
    "redundant-index",
    "unused-index",
    "fk-without-index",
];

fn public(name: &str) -> String {
    format!("public.{name}")
}

#[tokio::test]
async fn s6_leftovers_are_reported_and_dropped_safely() {
    use scenarios::*;
    let s = s6_leftovers().await;
    let client = s.db.client().await;
    wait_for_index_scans(&client, S6_REDUNDANT_COVER).await;
    wait_for_index_scans(&client, "orders_pkey").await;
    wait_for_dead_rows(&client, S6_DEAD_TUPLES_TABLE, 15_000).await;

    let report = scan_json(&s, &[]);
    let expected: BTreeSet<(String, String)> = [
        ("invalid-index", public(S6_INVALID)),
        ("duplicate-index", public(S6_DUPLICATE)),
        ("duplicate-index", public(S6_DUPLICATE_OF_CONSTRAINT)),
        ("redundant-index", public(S6_REDUNDANT)),
        ("unused-index", public(S6_UNUSED)),
        ("fk-without-index", public("orders")),
    ]
    .into_iter()
    .map(|(r, o)| (r.to_string(), o))
    .collect();
    assert_eq!(
        rule_objects(&report, INDEX_RULES),
        expected,
        "{:#}",
        report["findings"]
    );

    // No finding is about an index that backs a constraint.
    let constrained = constraint_indexes(&client).await;
    assert!(constrained.contains(S6_CONSTRAINT_INDEX) && constrained.contains("orders_pkey"));
    for f in findings(&report) {
        let object = f["object"].as_str().unwrap();
        assert!(
            !constrained.iter().any(|c| object == public(c)),
            "finding against a constraint's index: {f:#}"
        );
    }

    // The evidence: sizes, scan counts, what stays instead.
    let duplicate = with_rule(&report, "duplicate-index")
        .into_iter()
        .find(|f| f["object"] == public(S6_DUPLICATE).as_str())
        .unwrap();
    assert_eq!(
        duplicate["evidence"]["duplicate_of"]["index"],
        public(S6_DUPLICATE_KEPT)
    );
    assert!(duplicate["evidence"]["size_bytes"].as_i64().unwrap() > 1_000_000);
    let of_constraint = with_rule(&report, "duplicate-index")
        .into_iter()
        .find(|f| f["object"] == public(S6_DUPLICATE_OF_CONSTRAINT).as_str())
        .unwrap();
    assert_eq!(
        of_constraint["evidence"]["duplicate_of"]["index"],
        public(S6_CONSTRAINT_INDEX)
    );
    let redundant = &with_rule(&report, "redundant-index")[0];
    assert_eq!(
        redundant["evidence"]["covered_by"]["index"],
        public(S6_REDUNDANT_COVER)
    );
    let unused = &with_rule(&report, "unused-index")[0];
    assert_eq!(unused["evidence"]["idx_scan"], 0);
    assert!(unused["evidence"]["size_bytes"].as_i64().unwrap() >= 1024 * 1024);
    assert!(unused["detail"].as_str().unwrap().contains("replicas"));
    assert!(
        unused["evidence"]["table_writes"]["non_hot_updates"]
            .as_i64()
            .unwrap()
            > 0
    );
    // The snapshot records the index each foreign key depends on.
    let out = pgadvise().arg("snapshot").arg(&s.db.url).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let snapshot: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        snapshot["foreign_keys"][0]["referenced_index"],
        serde_json::json!({ "schema": "public", "name": "customers_pkey" })
    );
    let fk = &with_rule(&report, "fk-without-index")[0];
    assert_eq!(fk["evidence"]["constraint"], S6_FOREIGN_KEY);
    assert_eq!(
        fk["evidence"]["columns"],
        serde_json::json!(["customer_id"])
    );
    assert!(fk["evidence"]["child_rows"].as_f64().unwrap() >= 100_000.0);
    let invalid = &with_rule(&report, "invalid-index")[0];
    assert_eq!(invalid["severity"], "high");

    // Half of order_events is dead and autovacuum never came.
    let dead = with_rule(&report, "dead-tuples");
    assert_eq!(dead.len(), 1, "{:#}", report["findings"]);
    assert_eq!(dead[0]["object"], public(S6_DEAD_TUPLES_TABLE));
    assert!(dead[0]["evidence"]["n_dead_tup"].as_i64().unwrap() >= 15_000);
    assert_eq!(dead[0]["evidence"]["autovacuum_behind"], true);
    // The scenario switched autovacuum off for the table (its storage
    // parameters): the finding says so and the fix turns it back on.
    assert_eq!(dead[0]["evidence"]["autovacuum_enabled_for_table"], false);
    assert!(dead[0]["detail"]
        .as_str()
        .unwrap()
        .contains("Autovacuum is off for this table"));
    assert!(dead[0]["fix"].as_str().unwrap().contains(&format!(
        "ALTER TABLE {} RESET (autovacuum_enabled)",
        public(S6_DEAD_TUPLES_TABLE)
    )));

    // Drops: invalid (rebuilt), duplicates and redundant; unused only on request.
    let dropped = |report: &Value| -> BTreeSet<String> {
        report["drops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["index"].as_str().unwrap().to_string())
            .collect()
    };
    let safe: BTreeSet<String> = [
        S6_INVALID,
        S6_DUPLICATE,
        S6_DUPLICATE_OF_CONSTRAINT,
        S6_REDUNDANT,
    ]
    .iter()
    .map(|n| public(n))
    .collect();
    assert_eq!(dropped(&report), safe);
    let report = scan_json(&s, &["--drop-unused"]);
    let mut with_unused = safe.clone();
    with_unused.insert(public(S6_UNUSED));
    assert_eq!(dropped(&report), with_unused);

    // The text output lists the findings and the statements to run.
    let text = scan_text(&s, &[]);
    assert!(
        text.contains("DROP INDEX CONCURRENTLY IF EXISTS public.orders_created_at_dup;"),
        "{text}"
    );
    assert!(text.contains("fk-without-index public.orders"), "{text}");

    // The drops as migration files (`scan --out`, the default sql format),
    // applied for real with psql: each statement alone, outside a transaction
    // (CONCURRENTLY refuses a transaction block).
    for drop in report["drops"].as_array().unwrap() {
        assert!(drop["drop_sql"]
            .as_str()
            .unwrap()
            .starts_with("DROP INDEX CONCURRENTLY IF EXISTS "));
    }
    let out_dir = tempfile::tempdir().unwrap();
    let out = pgadvise()
        .args(["scan", "--quiet", "--drop-unused", "--out"])
        .arg(out_dir.path())
        .arg(&s.db.url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let up_file = |verb: &str, index: &str| -> std::path::PathBuf {
        files
            .iter()
            .find(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.ends_with(&format!("_{verb}_{index}.sql"))
            })
            .unwrap_or_else(|| panic!("no {verb} migration for {index} in {files:?}"))
            .clone()
    };
    let ups = [
        up_file("rebuild", S6_INVALID),
        up_file("drop", S6_DUPLICATE),
        up_file("drop", S6_DUPLICATE_OF_CONSTRAINT),
        up_file("drop", S6_REDUNDANT),
        up_file("drop", S6_UNUSED),
    ];
    // squawk, the migration linter, finds nothing to object to.
    let linted = std::process::Command::new("squawk")
        .args(&ups)
        .arg(up_file("drop", S6_REDUNDANT).with_extension("down.sql"))
        .output()
        .expect(
            "squawk lints the migrations: scripts/setup (or: npm install -g squawk-cli@2.66.0)",
        );
    assert!(
        linted.status.success(),
        "{}",
        String::from_utf8_lossy(&linted.stdout)
    );
    for file in &ups {
        let contents = std::fs::read_to_string(file).unwrap();
        assert!(contents.contains("backs no constraint"), "{contents}");
        // Twice: the migration is idempotent.
        for _ in 0..2 {
            let applied = psql_file(&s.db.url, file);
            assert!(
                applied.status.success(),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&applied.stderr)
            );
        }
    }
    let after = indexes(&client).await;
    for gone in [
        S6_DUPLICATE,
        S6_DUPLICATE_OF_CONSTRAINT,
        S6_REDUNDANT,
        S6_UNUSED,
    ] {
        assert!(!after.contains_key(gone), "{gone} still there: {after:?}");
    }
    assert_eq!(
        after.get(S6_INVALID),
        Some(&true),
        "rebuilt valid: {after:?}"
    );
    for kept in [
        S6_CONSTRAINT_INDEX,
        "orders_pkey",
        "customers_pkey",
        S6_DUPLICATE_KEPT,
        S6_REDUNDANT_COVER,
    ] {
        assert_eq!(after.get(kept), Some(&true), "{kept} must stay: {after:?}");
    }

    // The down migration of a drop brings the index back, as it was.
    let down = up_file("drop", S6_REDUNDANT).with_extension("down.sql");
    let applied = psql_file(&s.db.url, &down);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(indexes(&client).await.get(S6_REDUNDANT), Some(&true));
    let applied = psql_file(&s.db.url, &up_file("drop", S6_REDUNDANT));
    assert!(applied.status.success());

    // Once applied, nothing is left to drop. (The kept twins may now show as
    // unused: their scans went to the copies until a moment ago.)
    let report = scan_json(&s, &[]);
    assert_eq!(report["drops"], serde_json::json!([]), "{report:#}");
    let left = rule_objects(
        &report,
        &[
            "invalid-index",
            "duplicate-index",
            "redundant-index",
            "fk-without-index",
        ],
    );
    assert_eq!(
        left,
        [("fk-without-index".to_string(), public("orders"))]
            .into_iter()
            .collect(),
    );
}

#[tokio::test]
async fn s3_offset_pagination_and_unordered_pages_are_reported_with_the_keyset_rewrite() {
    use scenarios::*;
    let s = s3_archive_export().await;
    let client = s.db.client().await;
    wait_for_seq_scans(&client, "traffic_events", 3 * HOT_CALLS).await;
    let page = queryid(&client, S3_EXPORT_PAGE).await;
    let purge = queryid(&client, S3_PURGE_BATCH).await;

    let report = scan_json(&s, &[]);
    let offset = with_rule(&report, "offset-pagination");
    assert_eq!(offset.len(), 1, "{:#}", report["findings"]);
    let offset = offset[0];
    assert_eq!(offset["object"], "public.traffic_events");
    assert_eq!(offset["queryid"], page);
    assert_eq!(offset["evidence"]["query"], S3_EXPORT_PAGE);
    assert_eq!(offset["evidence"]["calls"], HOT_CALLS);
    assert!(offset["evidence"]["total_exec_time_ms"].as_f64().unwrap() > 0.0);
    let rewrite = offset["evidence"]["details"]["keyset_rewrite"]
        .as_str()
        .unwrap();
    assert_eq!(
        rewrite,
        "SELECT * FROM traffic_events WHERE event_date = $1 AND id > $3 ORDER BY id LIMIT $2"
    );
    assert!(offset["fix"].as_str().unwrap().contains(rewrite));

    let unordered = with_rule(&report, "limit-without-order-by");
    assert_eq!(unordered.len(), 1, "{:#}", report["findings"]);
    assert_eq!(unordered[0]["object"], "public.traffic_events");
    assert_eq!(unordered[0]["queryid"], page);
    // The purge's LIMIT inside a subquery is a batch, not a page.
    assert!(findings(&report).iter().all(|f| f["queryid"] != purge
        || f["rule"] == "seq-scan-heavy"
        || f["rule"] == "missing-index"));
    assert_eq!(report["drops"], serde_json::json!([]));

    // The rewrite is a statement the server runs, and it walks the day in
    // id order: the page after id 0 starts at the day's first id.
    client
        .batch_execute(&format!("PREPARE keyset AS {rewrite}"))
        .await
        .unwrap_or_else(|e| panic!("PREPARE {rewrite}: {e}"));
    let rows = client
        .simple_query("EXECUTE keyset('2024-02-10', 5, 0)")
        .await
        .unwrap();
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .collect();
    let first: i64 = client
        .query_one(
            "SELECT min(id) FROM traffic_events WHERE event_date = '2024-02-10'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ids, (first..first + 5).collect::<Vec<_>>());

    // Sequential scans dominate traffic_events; the statements are named.
    let heavy = with_rule(&report, "seq-scan-heavy");
    assert_eq!(heavy.len(), 1, "{:#}", report["findings"]);
    let listed: Vec<i64> = heavy[0]["evidence"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["queryid"].as_i64().unwrap())
        .collect();
    assert!(listed.contains(&page), "{listed:?}");

    // An excluded table gets no findings.
    let excluded = scan_json(&s, &["--exclude-table", "traffic_events"]);
    assert_eq!(excluded["findings"], serde_json::json!([]), "{excluded:#}");

    let text = scan_text(&s, &[]);
    assert!(
        text.contains("offset-pagination public.traffic_events"),
        "{text}"
    );
    assert!(text.contains(rewrite), "{text}");
}

/// Waits until `table` shows at least `scans` sequential scans.
async fn wait_for_seq_scans(client: &Client, table: &str, scans: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let seen: i64 = client
            .query_one(
                "SELECT coalesce(sum(seq_scan), 0)::int8 FROM pg_stat_user_tables WHERE relname = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        if seen >= scans || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn s1_names_the_tables_whose_sequential_scans_dominate() {
    let s = scenarios::s1_soft_deleted_feed().await;
    let client = s.db.client().await;
    wait_for_seq_scans(&client, "messages", 2 * scenarios::HOT_CALLS).await;
    wait_for_seq_scans(&client, "content", scenarios::HOT_CALLS).await;
    let report = scan_json(&s, &[]);
    let tables: BTreeSet<String> = with_rule(&report, "seq-scan-heavy")
        .iter()
        .map(|f| f["object"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tables,
        ["public.content", "public.messages"]
            .iter()
            .map(|t| t.to_string())
            .collect()
    );
    // Each names the proposed index that ends the scans.
    for f in with_rule(&report, "seq-scan-heavy") {
        assert!(
            !f["evidence"]["proposed_indexes"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{f:#}"
        );
    }
}

#[tokio::test]
async fn s5_healthy_database_has_no_findings_and_no_drops() {
    let s = scenarios::s5_healthy().await;
    let client = s.db.client().await;
    wait_for_index_scans(&client, scenarios::S5_COMPOSITE_INDEX).await;
    let report = scan_json(&s, &[]);
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["drops"], serde_json::json!([]));
}

/// Queries a pull request would add, checked before they run (`--query`):
/// each anti-pattern named, on the real catalog, with its fix.
#[tokio::test]
async fn given_queries_are_checked_for_anti_patterns() {
    let s = scenarios::s6_leftovers().await;
    let cases = [
        (
            "SELECT id FROM customers WHERE email ILIKE '%smith%'",
            "leading-wildcard-like",
            "public.customers",
            "USING gin (email gin_trgm_ops)",
        ),
        (
            "SELECT id FROM customers WHERE lower(email) = 'a@example.com'",
            "function-on-column",
            "public.customers",
            "(lower(email))",
        ),
        (
            "SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)",
            "not-in-subquery",
            "public.customers",
            "NOT EXISTS",
        ),
        (
            "SELECT id FROM orders WHERE id::text = $1",
            "implicit-cast",
            "public.orders",
            "bigint",
        ),
        (
            "SELECT count(*) FROM orders",
            "count-star-large-table",
            "public.orders",
            "reltuples",
        ),
    ];
    let mut args: Vec<&str> = vec!["--no-verify"];
    for (query, _, _, _) in &cases {
        args.extend(["--query", query]);
    }
    let report = scan_json(&s, &args);
    for (n, (query, rule, object, fix)) in cases.iter().enumerate() {
        // Given statements get negative queryids in the order given.
        let queryid = -(n as i64) - 1;
        let found: Vec<&Value> = findings(&report)
            .iter()
            .filter(|f| f["rule"] == *rule && f["queryid"] == queryid)
            .collect();
        assert_eq!(found.len(), 1, "{query}: {:#}", report["findings"]);
        assert_eq!(found[0]["object"], *object, "{query}");
        assert_eq!(found[0]["evidence"]["query"], *query);
        assert!(
            found[0]["fix"].as_str().unwrap().contains(fix),
            "{query}: {:#}",
            found[0]
        );
    }

    // The expression indexes the fixes ask for, as pg_get_indexdef prints
    // them, are recognised: those two findings go away.
    let client = s.db.client().await;
    client
        .batch_execute(
            "CREATE INDEX customers_lower_email_idx ON customers (lower(email)); \
             CREATE INDEX orders_id_text_idx ON orders ((id::text)); ANALYZE",
        )
        .await
        .unwrap();
    let report = scan_json(&s, &args);
    let rules: BTreeSet<&str> = findings(&report)
        .iter()
        .filter(|f| f["queryid"].as_i64().is_some_and(|q| q < 0))
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        // The ILIKE also gets the trigram GIN index proposed (its
        // missing-index finding), the same index the anti-pattern's fix names.
        [
            "leading-wildcard-like",
            "missing-index",
            "not-in-subquery",
            "count-star-large-table"
        ]
        .into_iter()
        .collect(),
        "{:#}",
        report["findings"]
    );
}
