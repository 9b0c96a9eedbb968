//! `pgadvise diff` on real snapshots: a workload measured before and after an
//! index built for real and a table that grew, a statistics reset between
//! two snapshots, pairs from different databases refused, and the CI exit code.
//!
//! The "before" statements are made genuinely slow (a sequential scan over
//! 200,000 rows, or over a table about to grow fiftyfold) and the "after"
//! ones fast or slower by far more than any noise, with enough calls for the
//! means to hold: the assertions compare factors of ten, not milliseconds.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use support::{run_in, text, TestDb};
use tokio_postgres::Client;

const CALLS: i32 = 60;

const SCHEMA: &str = "
    CREATE TABLE orders (
        id bigserial PRIMARY KEY,
        customer_id int NOT NULL,
        total numeric NOT NULL,
        note text NOT NULL
    );
    INSERT INTO orders (customer_id, total, note)
    SELECT g % 20000, g % 997, repeat('order note ', 8) || g
    FROM generate_series(1, 200000) g;
    CREATE TABLE events (
        id bigserial PRIMARY KEY,
        kind int NOT NULL,
        payload text NOT NULL
    );
    INSERT INTO events (kind, payload)
    SELECT g % 7, 'event ' || g FROM generate_series(1, 5000) g;
    CREATE TABLE items (
        id bigserial PRIMARY KEY,
        sku int NOT NULL,
        price int NOT NULL
    );
    INSERT INTO items (sku, price) SELECT g, g % 1000 FROM generate_series(1, 50000) g;
    CREATE INDEX items_sku_idx ON items (sku);
    ANALYZE orders;
    ANALYZE events;
    ANALYZE items;
";

const ORDERS_OF_CUSTOMER: &str = "SELECT id, total FROM orders WHERE customer_id = $1";
const EVENTS_OF_KIND: &str = "SELECT count(*) FROM events WHERE kind = $1";

/// Runs pgadvise and requires `code`, printing what it said otherwise.
fn expect(dir: &Path, args: &[&str], code: i32) -> Output {
    let out = run_in(dir, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "pgadvise {args:?}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out.stdout)))
}

const ITEM_BY_SKU: &str = "SELECT id, price FROM items WHERE sku = $1";
const ITEMS_AT_PRICE: &str = "SELECT id, sku FROM items WHERE price = $1";

/// The orders and events statements, and one on items: by sku (through
/// items_sku_idx) before the change, by price (a sequential scan) after.
async fn workload(client: &Client, items: &str) {
    for i in 0..CALLS {
        client.query(items, &[&(i + 1)]).await.expect("items query");
        client
            .query(ORDERS_OF_CUSTOMER, &[&(i * 37)])
            .await
            .expect("orders query");
        client
            .query_one(EVENTS_OF_KIND, &[&(i % 7)])
            .await
            .expect("events query");
    }
}

/// Table and index counters reach the shared statistics when a backend has
/// been idle a moment: waits (bounded) until `sql` returns true.
async fn wait_until(client: &Client, sql: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done: bool = client
            .query_one(sql, &[])
            .await
            .expect("reading statistics")
            .get(0);
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "statistics never showed: {sql}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn snapshot(dir: &Path, file: &str, url: &str) {
    expect(dir, &["snapshot", "--quiet", "-o", file, url], 0);
}

fn statement<'a>(list: &'a Value, query: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|s| s["query"].as_str() == Some(query))
}

#[tokio::test]
async fn diff_measures_a_new_index_and_a_regression_between_real_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create("diff_index").await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.expect("schema");
    db.reset_statements(&client).await;

    // Before: the orders lookup reads 200,000 rows each time; events is small.
    workload(&client, ITEM_BY_SKU).await;
    wait_until(
        &client,
        &format!(
            "SELECT (SELECT seq_scan >= {CALLS} FROM pg_stat_user_tables WHERE relname = 'orders') \
             AND (SELECT idx_scan >= {CALLS} FROM pg_stat_user_indexes WHERE indexrelname = 'items_sku_idx')"
        ),
    )
    .await;
    snapshot(dir.path(), "old.json", &db.url);

    // The migration, and the events table grows fiftyfold.
    client
        .batch_execute(
            "CREATE INDEX orders_customer_id_idx ON orders (customer_id);
             INSERT INTO events (kind, payload)
             SELECT g % 7, 'event ' || g FROM generate_series(1, 250000) g;
             ANALYZE orders; ANALYZE events;",
        )
        .await
        .expect("index and growth");
    workload(&client, ITEMS_AT_PRICE).await;
    wait_until(
        &client,
        &format!(
            "SELECT (SELECT idx_scan >= {CALLS} FROM pg_stat_user_indexes \
             WHERE indexrelname = 'orders_customer_id_idx') \
             AND (SELECT seq_scan >= {CALLS} FROM pg_stat_user_tables WHERE relname = 'items')"
        ),
    )
    .await;
    snapshot(dir.path(), "new.json", &db.url);

    // The snapshots carry the identity diff checks.
    let old: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("old.json")).unwrap())
            .unwrap();
    assert!(
        old["source"]["database_oid"].as_u64().is_some(),
        "{}",
        old["source"]
    );
    assert!(
        old["source"]["system_identifier"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "a superuser may read pg_control_system(): {}",
        old["source"]
    );

    let out = expect(
        dir.path(),
        &["diff", "old.json", "new.json", "--format", "json"],
        0,
    );
    let diff = json(&out);
    assert_eq!(diff["format_version"], 1);
    assert!(
        diff["reset"].is_null(),
        "no reset happened: {}",
        diff["reset"]
    );

    // The index: built between the snapshots, used, and its statement faster.
    let effect = diff["new_indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["index"] == "public.orders_customer_id_idx")
        .unwrap_or_else(|| panic!("the new index is missing: {:#}", diff["new_indexes"]));
    assert_eq!(effect["used"], true, "{effect:#}");
    assert!(
        effect["idx_scan"].as_i64().unwrap() >= i64::from(CALLS),
        "{effect:#}"
    );
    let served = statement(&effect["statements"], ORDERS_OF_CUSTOMER)
        .unwrap_or_else(|| panic!("its statement is missing: {effect:#}"));
    let before = served["mean_before_ms"].as_f64().unwrap();
    let after = served["mean_after_ms"].as_f64().unwrap();
    assert!(
        after * 5.0 < before,
        "the index must cut the mean time: {before} ms -> {after} ms"
    );
    assert_eq!(served["calls_after"], CALLS);
    assert!(
        effect["time_saved_ms"].as_f64().unwrap() > 0.0,
        "{effect:#}"
    );
    assert!(
        statement(&effect["statements"], EVENTS_OF_KIND).is_none(),
        "events does not read orders: {effect:#}"
    );

    // The regression: the events count reads fifty times the rows.
    let regression = statement(&diff["regressions"], EVENTS_OF_KIND)
        .unwrap_or_else(|| panic!("the regression is missing: {:#}", diff["regressions"]));
    assert!(
        regression["mean_change_pct"].as_f64().unwrap() > 100.0,
        "{regression:#}"
    );
    assert_eq!(regression["calls"], CALLS);
    assert!(
        statement(&diff["regressions"], ORDERS_OF_CUSTOMER).is_none(),
        "a faster statement is no regression"
    );
    // items went from its sku index to sequential scans by price; orders
    // the other way (its share fell: not listed).
    let grown: Vec<&Value> = diff["seq_scan_growth"].as_array().unwrap().iter().collect();
    let items = grown
        .iter()
        .find(|g| g["table"] == "public.items")
        .unwrap_or_else(|| panic!("items' sequential scans grew: {grown:#?}"));
    assert_eq!(items["seq_scan"], CALLS, "{items:#}");
    assert!(
        items["seq_tup_read"].as_i64().unwrap() >= 50_000 * i64::from(CALLS),
        "{items:#}"
    );
    assert!(
        grown.iter().all(|g| g["table"] != "public.orders"),
        "{grown:#?}"
    );
    let stopped = diff["stopped_indexes"].as_array().unwrap();
    assert!(
        stopped.iter().any(|s| s["index"] == "public.items_sku_idx"
            && s["old_idx_scan"].as_i64() >= Some(i64::from(CALLS))),
        "items_sku_idx stopped being used: {stopped:#?}"
    );
    assert!(
        stopped.iter().all(|s| s["index"] != "public.orders_pkey"),
        "orders' primary key was never used, it did not stop: {stopped:#?}"
    );

    // The text says the same.
    let out = expect(dir.path(), &["diff", "old.json", "new.json"], 0);
    let summary = text(&out.stdout);
    for expected in [
        "public.orders_customer_id_idx on public.orders: used by the planner",
        "Regressions (mean time up more than 20%",
        EVENTS_OF_KIND,
        ORDERS_OF_CUSTOMER,
        "saved over the window's calls",
        "public.items_sku_idx (",
        "public.items: 60 sequential scans read",
    ] {
        assert!(
            summary.contains(expected),
            "{expected:?} missing:\n{summary}"
        );
    }
    let out = expect(
        dir.path(),
        &["diff", "old.json", "new.json", "--format", "markdown"],
        0,
    );
    let comment = text(&out.stdout);
    assert!(comment.contains("### New indexes"), "{comment}");
    assert!(comment.contains("### Regressions"), "{comment}");

    // CI: a regression at or above the percentage fails the run.
    expect(
        dir.path(),
        &[
            "diff",
            "--quiet",
            "old.json",
            "new.json",
            "--fail-on-regression",
            "100",
        ],
        1,
    );
    expect(
        dir.path(),
        &[
            "diff",
            "old.json",
            "new.json",
            "--fail-on-regression",
            "100000000",
        ],
        0,
    );

    // NEW read live from the database, and kept for next time.
    let out = expect(
        dir.path(),
        &[
            "diff",
            "--quiet",
            "old.json",
            &db.url,
            "--format",
            "json",
            "--save-snapshot",
            "now.json",
        ],
        0,
    );
    let live = json(&out);
    assert!(
        live["new_indexes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["index"] == "public.orders_customer_id_idx"),
        "{:#}",
        live["new_indexes"]
    );
    assert!(dir.path().join("now.json").is_file());

    // Every field of the document is documented.
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.md"))
            .unwrap();
    let section = docs
        .split("# `pgadvise diff --format json`")
        .nth(1)
        .and_then(|rest| rest.split("\n# ").next())
        .expect("docs/json-output.md has a diff section");
    let mut objects = vec![&diff, &diff["old"], &diff["window"], effect];
    objects.extend(effect["statements"].as_array().unwrap());
    objects.extend(diff["regressions"].as_array().unwrap());
    objects.extend(diff["stopped_indexes"].as_array().unwrap());
    objects.extend(diff["seq_scan_growth"].as_array().unwrap());
    for object in objects {
        for key in object.as_object().unwrap().keys() {
            assert!(
                section.contains(&format!("`{key}`")),
                "`{key}` is not documented in docs/json-output.md's diff section"
            );
        }
    }
}

#[tokio::test]
async fn a_statistics_reset_between_snapshots_is_reported_and_no_delta_is_negative() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create("diff_reset").await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.expect("schema");
    db.reset_statements(&client).await;
    for i in 0..80 {
        client.query_one(EVENTS_OF_KIND, &[&(i % 7)]).await.unwrap();
    }
    snapshot(dir.path(), "old.json", &db.url);
    // This database's statistics only: other tests share the server.
    db.reset_statements(&client).await;
    for i in 0..55 {
        client.query_one(EVENTS_OF_KIND, &[&(i % 7)]).await.unwrap();
    }
    snapshot(dir.path(), "new.json", &db.url);

    let out = expect(
        dir.path(),
        &[
            "diff",
            "old.json",
            "new.json",
            "--format",
            "json",
            "--threshold",
            "0",
            "--min-calls",
            "1",
        ],
        0,
    );
    let diff = json(&out);
    let reset = &diff["reset"];
    assert!(
        reset["statements_restarted"].as_i64().unwrap() >= 1,
        "the counters that went down: {reset:#}"
    );
    // Without the reset, 55 - 80 calls would be a negative window.
    let calls = diff["window"]["calls"].as_i64().unwrap();
    assert!(
        (55..80).contains(&calls),
        "window calls {calls}: {:#}",
        diff["window"]
    );
    for list in ["regressions", "new_statements"] {
        for s in diff[list].as_array().unwrap() {
            for field in ["calls", "rows", "shared_blks_read", "shared_blks_hit"] {
                assert!(s[field].as_i64().unwrap() >= 0, "{list} {field}: {s:#}");
            }
            assert!(s["total_exec_time_ms"].as_f64().unwrap() >= 0.0, "{s:#}");
        }
    }
    if let Some(events) = statement(&diff["regressions"], EVENTS_OF_KIND) {
        assert_eq!(events["calls"], 55, "{events:#}");
        assert_eq!(events["restarted"], true, "{events:#}");
    }
    let out = expect(dir.path(), &["diff", "old.json", "new.json"], 0);
    let summary = text(&out.stdout);
    assert!(
        summary.contains("Statistics reset between the snapshots"),
        "{summary}"
    );
    assert!(summary.contains("counters went down"), "{summary}");
}

#[tokio::test]
async fn pairs_from_different_databases_or_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestDb::create("diff_one").await;
    let second = TestDb::create("diff_two").await;
    snapshot(dir.path(), "one.json", &first.url);
    snapshot(dir.path(), "two.json", &second.url);
    snapshot(dir.path(), "one-later.json", &first.url);

    let out = expect(dir.path(), &["diff", "one.json", "two.json"], 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("different databases") && stderr.contains(&first.name),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing compared: {}",
        text(&out.stdout)
    );

    let out = expect(dir.path(), &["diff", "one-later.json", "one.json"], 2);
    assert!(
        text(&out.stderr).contains("was taken before OLD"),
        "{}",
        text(&out.stderr)
    );

    // Another server: the same database name, another system identifier.
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("one.json")).unwrap())
            .unwrap();
    other["source"]["system_identifier"] = Value::from("1234567890123456789");
    std::fs::write(dir.path().join("other-server.json"), other.to_string()).unwrap();
    let out = expect(
        dir.path(),
        &["diff", "other-server.json", "one-later.json"],
        2,
    );
    assert!(
        text(&out.stderr).contains("different servers"),
        "{}",
        text(&out.stderr)
    );

    // A snapshot written before the identity fields existed still compares.
    let mut older: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("one.json")).unwrap())
            .unwrap();
    let source = older["source"].as_object_mut().unwrap();
    source.remove("system_identifier");
    source.remove("database_oid");
    std::fs::write(dir.path().join("older.json"), older.to_string()).unwrap();
    expect(dir.path(), &["diff", "older.json", "one-later.json"], 0);

    // Not a snapshot at all.
    std::fs::write(dir.path().join("junk.json"), "{}").unwrap();
    let out = expect(dir.path(), &["diff", "junk.json", "one.json"], 2);
    assert!(
        text(&out.stderr).contains("not a pgadvise snapshot"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn without_pg_control_system_the_snapshot_has_no_identifier_and_still_compares() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create("diff_noident").await;
    let role = format!("diff_monitor_{}", std::process::id());
    // Function privileges live in each database's pg_proc: this database only.
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'pw';
             GRANT pg_monitor TO {role};
             REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC;"
        ))
        .await
        .expect("role");
    let (host, port) = support::server().host_port();
    let url = format!("postgresql://{role}:pw@{host}:{port}/{}", db.name);
    snapshot(dir.path(), "old.json", &url);
    let old: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("old.json")).unwrap())
            .unwrap();
    assert!(
        old["source"].get("system_identifier").is_none(),
        "{}",
        old["source"]
    );
    assert!(
        old["source"]["database_oid"].as_u64().is_some(),
        "{}",
        old["source"]
    );
    let out = expect(
        dir.path(),
        &["diff", "old.json", &url, "--format", "json"],
        0,
    );
    let diff = json(&out);
    let notes = diff["notes"].to_string();
    assert!(notes.contains("no system identifier"), "{notes}");
}
