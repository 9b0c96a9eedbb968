//! The scenario fixtures are what SCENARIOS.md describes, proven against the
//! real server: the workload is in pg_stat_statements with its call counts, the
//! tables show the sequential scans, the hot queries scan sequentially today,
//! and each expected index turns them into index scans.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::scenarios::{self, explain, Scenario, HOT_CALLS};
use tokio_postgres::Client;

/// Calls per query text in pg_stat_statements, for this database.
async fn statement_calls(client: &Client) -> HashMap<String, i64> {
    client
        .query(
            "SELECT query, calls FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct ScanCounters {
    seq_scan: i64,
    idx_scan: i64,
}

async fn scan_counters(client: &Client, table: &str) -> ScanCounters {
    let row = client
        .query_one(
            "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .unwrap_or_else(|e| panic!("pg_stat_user_tables {table}: {e}"));
    ScanCounters {
        seq_scan: row.get(0),
        idx_scan: row.get(1),
    }
}

/// Table counters reach the shared statistics once the workload's backend has
/// exited; poll until `ready` holds (or give up and let the assertions speak).
async fn counters_after_flush(
    client: &Client,
    table: &str,
    ready: impl Fn(ScanCounters) -> bool,
) -> ScanCounters {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // A new snapshot of the statistics on each read.
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let counters = scan_counters(client, table).await;
        if ready(counters) || Instant::now() > deadline {
            return counters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_hot_queries_counted(scenario: &Scenario, calls: &HashMap<String, i64>) {
    for query in &scenario.hot_queries {
        assert_eq!(
            calls.get(query.text),
            Some(&query.calls),
            "{}: {} not counted as {} calls in {calls:#?}",
            scenario.name,
            query.text,
            query.calls
        );
    }
}

/// The index a plan reads through, if any: `Index Scan using x`, `Index Only
/// Scan using x`, `Bitmap Index Scan on x`.
fn uses_index(plan: &str, index: &str) -> bool {
    plan.contains(&format!("Index Scan using {index} "))
        || plan.contains(&format!("Index Scan Backward using {index} "))
        || plan.contains(&format!("Index Only Scan using {index} "))
        || plan.contains(&format!("Index Scan on {index}"))
}

/// Every hot query an expected index serves scans sequentially today, and reads
/// through that index once it exists (created, checked, dropped again).
async fn assert_expected_indexes_fix_the_plans(scenario: &Scenario, client: &Client) {
    for (n, expected) in scenario.expected_indexes.iter().enumerate() {
        for text in expected.serves {
            let plan = explain(client, scenario.hot_query(text)).await;
            assert!(
                plan.contains("Seq Scan on ") && !plan.contains("Index"),
                "{}: before any index, {text} should scan sequentially:\n{plan}",
                scenario.name
            );
        }
        let index_name = format!("scenario_expected_{n}");
        let create = expected.create_statement(&index_name);
        // Fresh statistics, as autovacuum would leave them: the load's last
        // writes (S2 marks most of the outbox published) may postdate them.
        client
            .batch_execute(&format!("{create}; ANALYZE {}", expected.table))
            .await
            .unwrap();
        for text in expected.serves {
            let mut plan = explain(client, scenario.hot_query(text)).await;
            // An index built over broken HOT chains (S2's updates) gets
            // indcheckxmin: no plan may use it while a transaction older than
            // the index runs anywhere in the cluster (other tests share it).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !uses_index(&plan, &index_name)
                && std::time::Instant::now() < deadline
                && client
                    .query_one(
                        "SELECT indcheckxmin FROM pg_index WHERE indexrelid = $1::text::regclass",
                        &[&index_name],
                    )
                    .await
                    .unwrap()
                    .get::<_, bool>(0)
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                plan = explain(client, scenario.hot_query(text)).await;
            }
            assert!(
                uses_index(&plan, &index_name) && !plan.contains("Seq Scan"),
                "{}: after {create}, {text} should read through it:\n{plan}",
                scenario.name
            );
        }
        client
            .batch_execute(&format!("DROP INDEX {index_name}"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn s1_soft_deleted_feed_scans_messages_and_content_sequentially() {
    let started = Instant::now();
    let scenario = scenarios::s1_soft_deleted_feed().await;
    eprintln!(
        "{} loaded and run in {:?}",
        scenario.name,
        started.elapsed()
    );
    let client = scenario.db.client().await;

    // Two hot queries on messages, one on content, every call a sequential scan.
    let messages = counters_after_flush(&client, "messages", |c| c.seq_scan >= 2 * HOT_CALLS).await;
    assert!(messages.seq_scan >= 2 * HOT_CALLS, "{messages:?}");
    let content = counters_after_flush(&client, "content", |c| c.seq_scan >= HOT_CALLS).await;
    assert!(content.seq_scan >= HOT_CALLS, "{content:?}");
    assert_eq!(messages.idx_scan + content.idx_scan, 0);

    assert_hot_queries_counted(&scenario, &statement_calls(&client).await);

    // The soft-deleted share is what the partial indexes leave out.
    let deleted: f64 = client
        .query_one(
            "SELECT avg((deleted_at IS NOT NULL)::int)::float8 FROM messages",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((deleted - 0.1).abs() < 0.01, "{deleted}");

    // Before: a sequential scan and a sort.
    let plan = explain(
        &client,
        scenario.hot_query(scenarios::S1_MESSAGES_BY_CONVERSATION),
    )
    .await;
    assert!(plan.contains("Sort"), "{plan}");
    assert_expected_indexes_fix_the_plans(&scenario, &client).await;

    // After: the index hands rows over in feed order, so the sort is gone too.
    for (n, expected) in scenario.expected_indexes.iter().enumerate() {
        let index_name = format!("scenario_feed_{n}");
        client
            .batch_execute(&expected.create_statement(&index_name))
            .await
            .unwrap();
        let plan = explain(&client, scenario.hot_query(expected.serves[0])).await;
        assert!(
            plan.contains(&format!("Index Scan using {index_name} ")) && !plan.contains("Sort"),
            "{plan}"
        );
        client
            .batch_execute(&format!("DROP INDEX {index_name}"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn s2_outbox_claims_and_idempotency_lookups_scan_sequentially() {
    let started = Instant::now();
    let scenario = scenarios::s2_transactional_outbox().await;
    eprintln!(
        "{} loaded and run in {:?}",
        scenario.name,
        started.elapsed()
    );
    let client = scenario.db.client().await;

    let processed =
        counters_after_flush(&client, "processed_messages", |c| c.seq_scan >= HOT_CALLS).await;
    assert!(processed.seq_scan >= HOT_CALLS, "{processed:?}");
    // Claims scan the table; the publishing UPDATE goes through the primary key.
    let outbox = counters_after_flush(&client, "outbox_events", |c| {
        c.seq_scan >= HOT_CALLS && c.idx_scan >= HOT_CALLS
    })
    .await;
    assert!(outbox.seq_scan >= HOT_CALLS, "{outbox:?}");
    assert!(outbox.idx_scan >= HOT_CALLS, "{outbox:?}");

    let calls = statement_calls(&client).await;
    assert_hot_queries_counted(&scenario, &calls);
    assert_eq!(calls.get("COMMIT"), Some(&HOT_CALLS), "{calls:#?}");

    // A backlog of published rows and a handful unpublished: well under 1%.
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FROM outbox_events",
            &[],
        )
        .await
        .unwrap();
    let (unpublished, total): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        (1..=20).contains(&unpublished) && total > 50_000,
        "{unpublished} of {total}"
    );

    // No index is needed for the primary-key UPDATE: it already uses the key.
    let update = explain(&client, scenario.hot_query(scenarios::S2_MARK_PUBLISHED)).await;
    assert!(uses_index(&update, "outbox_events_pkey"), "{update}");
    assert_expected_indexes_fix_the_plans(&scenario, &client).await;
}

#[tokio::test]
async fn s3_archive_export_scans_traffic_events_sequentially() {
    let started = Instant::now();
    let scenario = scenarios::s3_archive_export().await;
    eprintln!(
        "{} loaded and run in {:?}",
        scenario.name,
        started.elapsed()
    );
    let client = scenario.db.client().await;

    // Export page, count and the purge's sub-select: three scans per round.
    let events =
        counters_after_flush(&client, "traffic_events", |c| c.seq_scan >= 3 * HOT_CALLS).await;
    assert!(events.seq_scan >= 3 * HOT_CALLS, "{events:?}");
    assert_hot_queries_counted(&scenario, &statement_calls(&client).await);

    // The purge deleted only a few rows per call, all from the oldest day.
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE event_date = '2024-01-01') FROM traffic_events",
            &[],
        )
        .await
        .unwrap();
    let purged = HOT_CALLS * scenarios::S3_PURGE_BATCH_ROWS;
    let total = i64::from(scenarios::S3_DAYS) * scenarios::S3_EVENTS_PER_DAY;
    assert_eq!(row.get::<_, i64>(0), total - purged);
    assert_eq!(row.get::<_, i64>(1), scenarios::S3_EVENTS_PER_DAY - purged);
    assert_expected_indexes_fix_the_plans(&scenario, &client).await;
}

#[tokio::test]
async fn s5_healthy_database_reads_through_its_indexes() {
    let started = Instant::now();
    let scenario = scenarios::s5_healthy().await;
    eprintln!(
        "{} loaded and run in {:?}",
        scenario.name,
        started.elapsed()
    );
    let client = scenario.db.client().await;
    assert!(scenario.expected_indexes.is_empty());

    let orders = counters_after_flush(&client, "orders", |c| c.idx_scan >= 3 * HOT_CALLS).await;
    assert!(orders.idx_scan >= 3 * HOT_CALLS, "{orders:?}");
    // Only loading read the tables whole (index builds, constraint checks: how
    // many depends on parallel workers), never the workload: it ran each query
    // HOT_CALLS times, so one sequential plan would show that many scans.
    assert!(orders.seq_scan < HOT_CALLS, "{orders:?}");
    let accounts = counters_after_flush(&client, "accounts", |c| c.idx_scan >= HOT_CALLS).await;
    assert!(accounts.idx_scan >= HOT_CALLS, "{accounts:?}");
    assert!(accounts.seq_scan < HOT_CALLS, "{accounts:?}");
    assert_hot_queries_counted(&scenario, &statement_calls(&client).await);

    let expected_index = [
        (scenarios::S5_ACCOUNT_BY_ID, "accounts_pkey"),
        (
            scenarios::S5_ORDERS_OF_ACCOUNT,
            scenarios::S5_COMPOSITE_INDEX,
        ),
        (scenarios::S5_RECENT_ORDERS, scenarios::S5_COMPOSITE_INDEX),
        (scenarios::S5_ORDER_BY_ID, "orders_pkey"),
    ];
    for (text, index) in expected_index {
        let plan = explain(&client, scenario.hot_query(text)).await;
        assert!(
            uses_index(&plan, index) && !plan.contains("Seq Scan"),
            "{text} should read through {index}:\n{plan}"
        );
    }
}
