//! The collector against a real server: it reads real values, exactly.

mod support;

use pgadvise::collect::{collect, CollectError, CollectOptions};
use pgadvise::snapshot::{Snapshot, TableKind};
use std::time::{Duration, Instant};
use support::TestDb;

const SCHEMA: &str = r#"
    CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL)
        WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01);
    INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(0, 99) g;
    CREATE TABLE orders (
        id bigint PRIMARY KEY,
        customer_id int NOT NULL REFERENCES customers (id),
        status text NOT NULL,
        amount int NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz
    );
    INSERT INTO orders
    SELECT g, g % 100, CASE WHEN g % 10 = 0 THEN 'shipped' ELSE 'pending' END, g,
           now() - g * interval '1 minute', CASE WHEN g % 10 = 0 THEN now() END
    FROM generate_series(1, 5000) g;
    CREATE INDEX orders_open_idx ON orders (customer_id) WHERE deleted_at IS NULL;
    CREATE INDEX orders_recent_idx ON orders (created_at DESC NULLS LAST);
    CREATE INDEX orders_cover_idx ON orders (customer_id, status) INCLUDE (amount);
    CREATE INDEX orders_lower_status_idx ON orders (lower(status));
    CREATE UNIQUE INDEX orders_pattern_idx ON orders (status text_pattern_ops, id);
    CREATE VIEW open_orders AS SELECT id, customer_id, created_at FROM orders WHERE deleted_at IS NULL;
    CREATE TABLE events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE SCHEMA "Sales Dept";
    CREATE TABLE "Sales Dept"."Order Lines" ("Line Id" int PRIMARY KEY, "select" text);
    ANALYZE;
"#;

async fn snapshot_of(db: &TestDb) -> Result<Snapshot, CollectError> {
    let client = db.client().await;
    collect(
        &client,
        &CollectOptions {
            target: "test".into(),
            ..CollectOptions::default()
        },
    )
    .await
}

/// Table counters reach the shared statistics a moment after a backend exits;
/// poll until the expected scans are visible.
async fn snapshot_after_stats_flush(db: &TestDb, table: &str, min_seq_scans: i64) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let snap = snapshot_of(db).await.expect("collect");
        let seen = snap
            .table("public", table)
            .and_then(|t| t.stats.as_ref())
            .map_or(0, |s| s.seq_scan);
        if seen >= min_seq_scans || Instant::now() > deadline {
            return snap;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn snapshot_holds_the_workload_and_the_schema_exactly() {
    let db = TestDb::create("collect").await;
    {
        // Closed before the snapshot, so the loads' counters are flushed too.
        let admin = db.client().await;
        admin.batch_execute(SCHEMA).await.expect("schema");
        db.reset_statements(&admin).await;
    }

    // The workload, on its own connection, closed so its counters are flushed.
    {
        let app = db.client().await;
        let by_amount = app
            .prepare("SELECT count(*) FROM orders WHERE amount > $1")
            .await
            .unwrap();
        for i in 0..7 {
            app.query(&by_amount, &[&(i * 100)]).await.unwrap();
        }
        let by_customer = app
            .prepare("SELECT id FROM orders WHERE customer_id = $1 AND deleted_at IS NULL")
            .await
            .unwrap();
        for i in 0..3 {
            app.query(&by_customer, &[&i]).await.unwrap();
        }
    }
    // A session that stays open, to be seen in pg_stat_activity.
    let idle = db.client().await;
    idle.batch_execute("SET application_name = 'collect-test-app'; SELECT 1")
        .await
        .unwrap();

    let snap = snapshot_after_stats_flush(&db, "orders", 7).await;

    // Server and settings.
    assert!(snap.server.version_num >= 130000, "{:?}", snap.server);
    // The version matrix (scripts/test-matrix) says which server it meant to test.
    if let Ok(major) = std::env::var("PGADVISE_TEST_EXPECT_MAJOR") {
        assert_eq!(snap.server.major().to_string(), major, "{:?}", snap.server);
    }
    assert!(snap
        .server
        .version
        .starts_with(&(snap.server.major()).to_string()));
    assert!(snap.setting("max_connections").is_some());
    assert!(snap
        .setting("shared_preload_libraries")
        .unwrap()
        .contains("pg_stat_statements"));
    assert!(snap.extension("pg_stat_statements").is_some());
    assert_eq!(snap.source.database, db.name);
    assert!(!snap.source.in_recovery);
    assert_eq!(snap.search_path, vec!["public".to_string()]);

    // Statements, with their exact call counts.
    let by_text = |text: &str| {
        snap.statements
            .entries
            .iter()
            .find(|s| s.query == text)
            .unwrap_or_else(|| panic!("{text} not in {:#?}", snap.statements.entries))
    };
    let amount = by_text("SELECT count(*) FROM orders WHERE amount > $1");
    assert_eq!(amount.calls, 7);
    assert!(amount.total_exec_time > 0.0);
    assert!(amount.mean_exec_time > 0.0);
    assert_eq!(amount.rows, 7);
    let customer = by_text("SELECT id FROM orders WHERE customer_id = $1 AND deleted_at IS NULL");
    assert_eq!(customer.calls, 3);
    assert_eq!(snap.statements.hidden_count, 0);
    // Sorted by total time, heaviest first.
    let totals: Vec<f64> = snap
        .statements
        .entries
        .iter()
        .map(|s| s.total_exec_time)
        .collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]));

    // Tables: kinds, sizes, counters.
    let orders = snap.table("public", "orders").expect("orders");
    assert_eq!(orders.kind, TableKind::Table);
    assert_eq!(orders.reltuples, 5000.0);
    assert!(orders.size_bytes > 0 && orders.total_size_bytes > orders.size_bytes);
    assert!(orders.options.is_empty(), "{:?}", orders.options);
    // Storage parameters, per-table autovacuum settings among them.
    let customers = snap.table("public", "customers").expect("customers");
    assert_eq!(
        customers.options,
        ["fillfactor=90", "autovacuum_vacuum_scale_factor=0.01"]
    );
    let stats = orders.stats.as_ref().expect("orders stats");
    assert!(
        stats.seq_scan >= 7,
        "seq_scan {} should count the 7 scans",
        stats.seq_scan
    );
    assert!(stats.seq_tup_read >= 7 * 5000);
    assert_eq!(stats.n_tup_ins, 5000);
    assert_eq!(stats.n_live_tup, 5000);
    let events = snap.table("public", "events").expect("events");
    assert_eq!(events.kind, TableKind::PartitionedTable);
    assert_eq!(events.partition_key.as_deref(), Some("RANGE (at)"));
    let part = snap.table("public", "events_2024").expect("partition");
    assert_eq!(
        part.parent.as_ref().map(|p| p.name.as_str()),
        Some("events")
    );
    assert_eq!(
        part.partition_bound.as_deref(),
        Some("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    );
    let lines = snap
        .table("Sales Dept", "Order Lines")
        .expect("quoted names kept as they are");
    let names: Vec<&str> = lines.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Line Id", "select"]);

    // Columns and pg_stats.
    let col = |name: &str| orders.columns.iter().find(|c| c.name == name).unwrap();
    assert_eq!(col("created_at").data_type, "timestamp with time zone");
    assert!(col("created_at").not_null);
    assert!(!col("deleted_at").not_null);
    let deleted = col("deleted_at").stats.as_ref().expect("deleted_at stats");
    assert!((deleted.null_frac - 0.9).abs() < 0.001, "{deleted:?}");
    let customer_stats = col("customer_id").stats.as_ref().unwrap();
    assert_eq!(customer_stats.n_distinct, 100.0);
    assert_eq!(customer_stats.null_frac, 0.0);
    let status = col("status").stats.as_ref().unwrap();
    assert_eq!(
        status.most_common_vals,
        vec![Some("pending".to_string()), Some("shipped".to_string())]
    );
    assert!((status.most_common_freqs[0] - 0.9).abs() < 0.001);
    let id_stats = col("id").stats.as_ref().unwrap();
    assert_eq!(id_stats.n_distinct, -1.0);
    assert_eq!(id_stats.correlation, Some(1.0));
    assert!(!id_stats.histogram_bounds.is_empty());

    // Indexes, exactly as defined.
    let index = |name: &str| {
        snap.indexes
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("index {name}"))
    };
    let partial = index("orders_open_idx");
    assert_eq!(
        partial.definition,
        "CREATE INDEX orders_open_idx ON public.orders USING btree (customer_id) WHERE (deleted_at IS NULL)"
    );
    assert_eq!(partial.predicate.as_deref(), Some("deleted_at IS NULL"));
    assert_eq!(partial.keys.len(), 1);
    assert_eq!(partial.keys[0].column.as_deref(), Some("customer_id"));
    assert!(partial.is_valid && partial.is_ready && !partial.is_unique);
    assert!(partial.constraint.is_none());

    let desc = index("orders_recent_idx");
    assert_eq!(
        desc.definition,
        "CREATE INDEX orders_recent_idx ON public.orders USING btree (created_at DESC NULLS LAST)"
    );
    assert!(desc.keys[0].descending);
    assert!(!desc.keys[0].nulls_first);

    let cover = index("orders_cover_idx");
    assert_eq!(
        cover.definition,
        "CREATE INDEX orders_cover_idx ON public.orders USING btree (customer_id, status) INCLUDE (amount)"
    );
    let key_names: Vec<_> = cover.keys.iter().map(|k| k.column.clone()).collect();
    assert_eq!(
        key_names,
        [Some("customer_id".to_string()), Some("status".to_string())]
    );
    assert_eq!(cover.include, ["amount"]);

    let expr = index("orders_lower_status_idx");
    assert_eq!(expr.keys[0].column, None);
    assert_eq!(expr.keys[0].expression.as_deref(), Some("lower(status)"));

    let pattern = index("orders_pattern_idx");
    assert!(pattern.is_unique);
    assert_eq!(pattern.keys[0].opclass.as_deref(), Some("text_pattern_ops"));
    assert_eq!(pattern.keys[1].opclass, None);

    let pkey = index("orders_pkey");
    assert!(pkey.is_primary);
    assert_eq!(
        pkey.constraint
            .as_ref()
            .map(|c| (c.name.as_str(), c.kind.as_str())),
        Some(("orders_pkey", "primary_key"))
    );
    assert!(pkey.size_bytes > 0);
    assert!(pkey.stats.is_some());

    // Foreign keys and views.
    let fk = snap
        .foreign_keys
        .iter()
        .find(|f| f.table.name == "orders")
        .expect("fk");
    assert_eq!(fk.columns, ["customer_id"]);
    assert_eq!(fk.referenced_table.name, "customers");
    assert_eq!(fk.referenced_columns, ["id"]);
    let view = snap.views.iter().find(|v| v.name == "open_orders").unwrap();
    assert_eq!(view.columns, ["id", "customer_id", "created_at"]);
    assert!(view.definition.contains("deleted_at IS NULL"));
    // Extension-owned views (pg_stat_statements' own) are not user objects.
    assert!(snap.views.iter().all(|v| v.name != "pg_stat_statements"));

    // Activity and database counters.
    let app = snap
        .activity
        .sessions
        .iter()
        .find(|s| s.application_name == "collect-test-app")
        .expect("idle session sampled");
    assert_eq!(app.state.as_deref(), Some("idle"));
    assert_eq!(
        app.query.as_deref(),
        Some("SET application_name = ?; SELECT ?")
    );
    assert!(snap.database.xact_commit > 0);
    drop(idle);
}

#[tokio::test]
async fn snapshot_round_trips_through_json_losslessly() {
    let db = TestDb::create("roundtrip").await;
    let admin = db.client().await;
    admin.batch_execute(SCHEMA).await.unwrap();
    admin
        .query("SELECT count(*) FROM orders WHERE amount < $1", &[&17])
        .await
        .unwrap();
    let snap = snapshot_of(&db).await.unwrap();
    let json = snap.to_json();
    let back = Snapshot::from_json(&json).unwrap();
    assert_eq!(back, snap);
    assert_eq!(back.to_json(), json);
}

#[tokio::test]
async fn the_session_is_read_only_and_bounded() {
    let db = TestDb::create("readonly").await;
    let client = db.client().await;
    collect(&client, &CollectOptions::default()).await.unwrap();
    let err = client
        .batch_execute("CREATE TABLE must_not_exist (id int)")
        .await
        .expect_err("the collector's session must refuse writes");
    let message = err.as_db_error().map(|e| e.message().to_string());
    assert_eq!(
        message.as_deref(),
        Some("cannot execute CREATE TABLE in a read-only transaction")
    );
    let row = client
        .query_one(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "30s");
    assert_eq!(row.get::<_, String>(1), "1s");
}

#[tokio::test]
async fn missing_extension_in_the_database_says_how_to_create_it() {
    let db = TestDb::create("noext").await;
    let client = db.client().await;
    client
        .batch_execute("DROP EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let err = collect(&client, &CollectOptions::default())
        .await
        .expect_err("no extension");
    assert!(
        matches!(err, CollectError::StatementsNotCreated { .. }),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
    assert!(err.to_string().contains(&db.name));
}

#[tokio::test]
async fn hidden_statement_texts_name_the_missing_role() {
    let db = TestDb::create("hidden").await;
    let admin = db.client().await;
    let role = format!("{}_reader", db.name);
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'; \
             GRANT CONNECT ON DATABASE {} TO {role}; \
             SELECT count(*) FROM pg_class WHERE relpages > 1000",
            db.name
        ))
        .await
        .unwrap();
    let (host, port) = support::server().host_port();
    let url = format!("postgresql://{role}:reader-pw@{host}:{port}/{}", db.name);
    let reader = support::connect(&url).await;
    let err = collect(&reader, &CollectOptions::default())
        .await
        .expect_err("texts hidden");
    match &err {
        CollectError::StatementsHidden { role: r, hidden } => {
            assert_eq!(r, &role);
            assert!(*hidden > 0);
        }
        other => panic!("expected StatementsHidden, got {other:?}"),
    }
    assert!(err.to_string().contains("GRANT pg_read_all_stats"));

    // With pg_read_all_stats the same role reads them.
    admin
        .batch_execute(&format!("GRANT pg_read_all_stats TO {role}"))
        .await
        .unwrap();
    let reader = support::connect(&url).await;
    let snap = collect(&reader, &CollectOptions::default()).await.unwrap();
    assert_eq!(snap.statements.hidden_count, 0);
    assert!(snap
        .statements
        .entries
        .iter()
        .any(|s| s.query.contains("relpages > $1")));
    drop(reader);
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; "))
        .await
        .ok();
}
