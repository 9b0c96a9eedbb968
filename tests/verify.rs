//! What-if planning against a real server with hypopg: hypothetical indexes
//! change generic plans, nothing is cached across them, nothing is written.

mod support;

use pgadvise::verify::{PlanFailure, PlanSummary, VerifyError, WhatIf};
use std::time::{Duration, Instant};
use support::TestDb;

const SCHEMA: &str = r#"
    CREATE TABLE messages (
        id bigserial PRIMARY KEY,
        conversation_id int NOT NULL,
        user_id int NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz
    );
    INSERT INTO messages (conversation_id, user_id, body, created_at, deleted_at)
    SELECT g % 1000, g % 317, repeat('message body ', 4) || g,
           now() - g * interval '1 minute',
           CASE WHEN g % 10 = 0 THEN now() - g * interval '30 seconds' END
    FROM generate_series(1, 50000) g;
    ANALYZE messages;
"#;

const ROWS: i64 = 50_000;

const LATEST_IN_CONVERSATION: &str = "SELECT * FROM messages WHERE conversation_id = $1 \
     AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 50";

/// The what-if tests need hypopg; a server without it is a setup problem to fix,
/// not a reason to pass.
fn require_hypopg(db: &TestDb) {
    assert!(
        db.has_hypopg,
        "\n\nthe test server has no hypopg, so verify cannot be tested.\n\
         Fix: scripts/setup --minimal (it installs postgresql-15-hypopg; for another major version, its package)\n"
    );
}

/// Counters of `messages` in pg_stat_user_tables, read from another session.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct WriteCounters {
    inserted: i64,
    updated: i64,
    deleted: i64,
}

async fn write_counters(db: &TestDb) -> WriteCounters {
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'messages'",
            &[],
        )
        .await
        .expect("pg_stat_user_tables");
    WriteCounters {
        inserted: row.get(0),
        updated: row.get(1),
        deleted: row.get(2),
    }
}

async fn index_names(db: &TestDb) -> Vec<String> {
    let client = db.client().await;
    client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .expect("pg_indexes")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Creates and loads `messages`, then waits until the load's counters reach the
/// shared statistics, so later comparisons see a settled baseline.
async fn messages_db(prefix: &str) -> (TestDb, WriteCounters) {
    let db = TestDb::create(prefix).await;
    require_hypopg(&db);
    {
        let admin = db.client().await;
        admin.batch_execute(SCHEMA).await.expect("schema");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let counters = write_counters(&db).await;
        if counters.inserted >= ROWS {
            return (db, counters);
        }
        assert!(
            Instant::now() < deadline,
            "the load's statistics never arrived: {counters:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn open(db: &TestDb) -> WhatIf {
    let client = db.client().await;
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .expect("server_version_num")
        .get(0);
    match WhatIf::open(client, version).await {
        Ok(what_if) => what_if,
        Err(e) => panic!("WhatIf::open: {e}"),
    }
}

async fn plan(what_if: &WhatIf, sql: &str) -> PlanSummary {
    match what_if.plan(sql).await {
        Ok(summary) => summary,
        Err(e) => panic!("planning {sql}: {e}"),
    }
}

/// Nothing was written by the what-if session: same counters (after the
/// session's backend had time to flush its statistics) and no new index.
async fn assert_nothing_written(db: &TestDb, before: WriteCounters) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        write_counters(db).await,
        before,
        "the what-if session wrote"
    );
    assert_eq!(index_names(db).await, ["messages_pkey"]);
}

#[tokio::test]
async fn hypothetical_indexes_change_the_plan_and_nothing_is_written() {
    let (db, before) = messages_db("verify_whatif").await;
    let what_if = open(&db).await;

    // 1. Baseline: nothing but the primary key, so a scan of the whole table and a sort.
    let baseline = plan(&what_if, LATEST_IN_CONVERSATION).await;
    assert!(baseline.seq_scans("messages"), "{}", baseline.text);
    assert!(
        baseline.nodes.iter().any(|n| n.contains("Sort")),
        "{}",
        baseline.text
    );
    assert!(baseline.indexes_used.is_empty(), "{}", baseline.text);

    let partial = what_if
        .create_hypothetical(
            "CREATE INDEX ON messages (conversation_id, created_at DESC) WHERE deleted_at IS NULL",
        )
        .await
        .expect("hypothetical partial index");
    assert!(partial.size_bytes > 0, "{partial:?}");
    let with_index = plan(&what_if, LATEST_IN_CONVERSATION).await;
    assert!(
        with_index.indexes_used.contains(&partial.name),
        "hypothetical index {} not used:\n{}",
        partial.name,
        with_index.text
    );
    assert!(!with_index.seq_scans("messages"), "{}", with_index.text);
    assert!(
        with_index.total_cost < baseline.total_cost * 0.5,
        "cost {} -> {}",
        baseline.total_cost,
        with_index.total_cost
    );
    eprintln!(
        "baseline:\n{}with {} ({} bytes):\n{}",
        baseline.text, partial.name, partial.size_bytes, with_index.text
    );

    // Sizes follow the predicate: 10% of rows are deleted, so a partial index
    // on them is smaller than the same index over every row.
    let full = what_if
        .create_hypothetical("CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_full_idx ON messages (conversation_id, created_at DESC)")
        .await
        .expect("hypothetical full index");
    let rare = what_if
        .create_hypothetical(
            "CREATE INDEX ON messages (conversation_id, created_at DESC) WHERE deleted_at IS NOT NULL",
        )
        .await
        .expect("hypothetical rare partial index");
    assert!(
        0 < rare.size_bytes && rare.size_bytes < full.size_bytes,
        "rare {rare:?} vs full {full:?}"
    );
    what_if
        .drop_hypothetical(rare.oid)
        .await
        .expect("drop_hypothetical");
    assert!(matches!(
        what_if.drop_hypothetical(rare.oid).await,
        Err(VerifyError::UnknownHypothetical { .. })
    ));
    assert!(matches!(
        what_if.create_hypothetical("CREATE TABLE t (a int)").await,
        Err(VerifyError::IndexDefinition { .. })
    ));
    assert!(matches!(
        what_if
            .create_hypothetical("CREATE INDEX ON messages (no_such_column)")
            .await,
        Err(VerifyError::Query { .. })
    ));

    // 2. After reset the same statement is planned afresh: back to the scan.
    what_if.reset().await.expect("reset");
    let again = plan(&what_if, LATEST_IN_CONVERSATION).await;
    assert!(again.seq_scans("messages"), "stale plan:\n{}", again.text);
    assert_eq!(again.total_cost, baseline.total_cost);
    assert!(again.indexes_used.is_empty(), "{}", again.text);

    // 3. Writes plan in the read-only session; typed literals as
    // pg_stat_statements prints them plan after normalization.
    let update = plan(&what_if, "UPDATE messages SET body = $2 WHERE id = ANY($1)").await;
    assert_eq!(
        update.nodes.first().map(String::as_str),
        Some("Update on messages")
    );
    assert!(
        update.indexes_used.iter().any(|i| i == "messages_pkey"),
        "{}",
        update.text
    );
    let delete = plan(&what_if, "DELETE FROM messages WHERE id = $1").await;
    assert_eq!(
        delete.nodes.first().map(String::as_str),
        Some("Delete on messages")
    );
    let typed = plan(
        &what_if,
        "SELECT count(*) FROM messages WHERE created_at > now() - interval $1 AND user_id = $2",
    )
    .await;
    assert!(typed.total_cost > 0.0, "{}", typed.text);
    plan(
        &what_if,
        "SELECT id FROM messages WHERE created_at >= date $1 -- trailing comment\n;",
    )
    .await;

    // 4. Failures are errors, the session stays usable.
    let cases = [
        // (`SELECT $1` alone plans: PREPARE resolves an output-only parameter to text.)
        (
            "SELECT count(*) FROM messages WHERE $1 IS NULL",
            PlanFailure::ParameterTypes,
        ),
        ("SELECT $2::int", PlanFailure::ParameterTypes),
        (
            "SELECT * FROM no_such_table WHERE id = $1",
            PlanFailure::MissingObject,
        ),
        (
            "SELECT no_such_column FROM messages",
            PlanFailure::MissingObject,
        ),
        ("SELEC 1", PlanFailure::Syntax),
        ("SELECT 1; SELECT 2", PlanFailure::NotOneStatement),
        ("", PlanFailure::NotOneStatement),
    ];
    for (sql, kind) in cases {
        match what_if.plan(sql).await {
            Ok(summary) => panic!("{sql} planned:\n{}", summary.text),
            Err(e) => assert_eq!(e.kind, kind, "{sql}: {e}"),
        }
        let next = plan(&what_if, LATEST_IN_CONVERSATION).await;
        assert_eq!(next.total_cost, baseline.total_cost, "after {sql}");
    }

    what_if.close().await.expect("close");

    // 6. Nothing was written: no rows touched, no index built.
    assert_nothing_written(&db, before).await;
}

/// Statements for the pipelining test: same shapes, different constants and
/// columns, so plans and costs differ.
fn statement_set(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| match i % 5 {
            0 => format!("SELECT * FROM messages WHERE conversation_id = $1 AND user_id = {i} ORDER BY created_at DESC LIMIT {}", 1 + i),
            1 => format!("SELECT id, body FROM messages WHERE id = $1 OR user_id = {i}"),
            2 => format!("UPDATE messages SET body = $1 WHERE id BETWEEN $2 AND $2 + {i}"),
            3 => format!("SELECT count(*) FROM messages WHERE created_at > now() - interval $1 AND conversation_id < {i}"),
            _ => format!("SELECT user_id, count(*) FROM messages WHERE id > {} GROUP BY user_id", i * 100),
        })
        .collect()
}

#[tokio::test]
async fn plan_many_pipelines_and_matches_plan_one_by_one() {
    let (db, before) = messages_db("verify_pipeline").await;
    let what_if = open(&db).await;
    what_if
        .create_hypothetical("CREATE INDEX ON messages (user_id)")
        .await
        .expect("hypothetical index");

    let mut statements = statement_set(500);
    // Failures in the middle of a pipeline stay with their own statement.
    statements.insert(7, "SELECT 1 WHERE $1 IS NULL".to_string());
    statements.insert(300, "SELECT * FROM no_such_table".to_string());
    let sqls: Vec<&str> = statements.iter().map(String::as_str).collect();

    let started = Instant::now();
    let mut one_by_one = Vec::with_capacity(sqls.len());
    for sql in &sqls {
        one_by_one.push(what_if.plan(sql).await);
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let pipelined = what_if.plan_many(&sqls).await;
    let pipelined_time = started.elapsed();
    eprintln!(
        "{} statements: one by one {sequential:?}, pipelined {pipelined_time:?}",
        sqls.len()
    );

    assert_eq!(pipelined.len(), sqls.len());
    for ((sql, single), many) in sqls.iter().zip(&one_by_one).zip(&pipelined) {
        match (single, many) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{sql}"),
            (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "{sql}"),
            _ => panic!("{sql}: one by one {single:?}, pipelined {many:?}"),
        }
    }
    let failed: Vec<(&str, String)> = sqls
        .iter()
        .zip(&pipelined)
        .filter_map(|(sql, r)| r.as_ref().err().map(|e| (*sql, e.to_string())))
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "only the two broken statements fail: {failed:#?}"
    );
    assert_eq!(
        pipelined[7].as_ref().map_err(|e| e.kind).err(),
        Some(PlanFailure::ParameterTypes)
    );
    assert!(
        pipelined.iter().flatten().any(|p| p
            .indexes_used
            .iter()
            .any(|i| i.contains("btree_messages_user_id"))),
        "no statement used the hypothetical index"
    );

    what_if.close().await.expect("close");
    assert_nothing_written(&db, before).await;
}

#[tokio::test]
async fn open_without_the_extension_says_how_to_create_it() {
    let db = TestDb::create("verify_nohypopg").await;
    {
        let admin = db.client().await;
        admin
            .batch_execute("DROP EXTENSION IF EXISTS hypopg")
            .await
            .expect("drop hypopg");
    }
    let client = db.client().await;
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .expect("server_version_num")
        .get(0);
    let error = match WhatIf::open(client, version).await {
        Ok(_) => panic!("WhatIf::open succeeded without hypopg in the database"),
        Err(e) => e,
    };
    let text = error.to_string();
    match error {
        VerifyError::HypopgNotCreated { database } => {
            assert!(db.has_hypopg);
            assert_eq!(database, db.name);
            assert!(text.contains("CREATE EXTENSION hypopg"), "{text}");
        }
        VerifyError::HypopgNotInstalled { database, .. } => {
            assert!(!db.has_hypopg);
            assert_eq!(database, db.name);
            assert!(text.contains("-hypopg"), "{text}");
        }
        other => panic!("unexpected error: {other}"),
    }
    // The extension was not created behind our back.
    let check = db.client().await;
    let created: bool = check
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'hypopg')",
            &[],
        )
        .await
        .expect("pg_extension")
        .get(0);
    assert!(!created);
}
