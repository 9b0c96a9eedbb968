//! The advisor over hand-built snapshots: the production scenarios' statements,
//! asserting the exact proposals.

use super::{propose, HotStatements, IndexAdvice, TableFilter};
use crate::analyze::health::fixture;
use crate::analyze::workload::Workload;
use crate::snapshot::*;

/// (name, null_frac, n_distinct, avg_width, most common values with freqs)
type ColumnSpec<'a> = (&'a str, f64, f64, i32, &'a [(&'a str, f64)]);

fn table(name: &str, rows: f64, columns: &[ColumnSpec]) -> Table {
    Table {
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, (col, null_frac, n_distinct, width, mcv))| Column {
                not_null: *null_frac == 0.0,
                stats: Some(fixture::column_stats(*null_frac, *n_distinct, *width, mcv)),
                ..fixture::column(i, col, "bigint")
            })
            .collect(),
        ..fixture::bare_table("public", name, rows)
    }
}

/// The primary key's index as the advisor needs it: keys and flags only.
fn pkey(table: &str, column: &str) -> Index {
    Index {
        oid: 0,
        schema: "public".into(),
        name: format!("{table}_pkey"),
        table: QualifiedName::new("public", table),
        definition: String::new(),
        method: "btree".into(),
        keys: vec![IndexKey {
            column: Some(column.into()),
            ..IndexKey::default()
        }],
        include: vec![],
        predicate: None,
        is_unique: true,
        is_primary: true,
        is_exclusion: false,
        is_valid: true,
        is_ready: true,
        is_partitioned: false,
        parent_index: None,
        constraint: None,
        size_bytes: 0,
        stats: None,
    }
}

fn statement(queryid: i64, calls: i64, mean: f64, query: &str) -> Statement {
    Statement {
        toplevel: Some(true),
        ..fixture::statement(queryid, calls, mean, query)
    }
}

fn snapshot(tables: Vec<Table>, indexes: Vec<Index>, statements: Vec<Statement>) -> Snapshot {
    let mut snap = fixture::snapshot();
    snap.tables = tables;
    snap.indexes = indexes;
    snap.statements.entries = statements;
    snap
}

fn advise(snap: &Snapshot) -> IndexAdvice {
    let workload = Workload::from_snapshot(snap);
    propose(
        snap,
        &workload,
        &HotStatements::default(),
        &TableFilter::default(),
    )
}

fn ddls(advice: &IndexAdvice) -> Vec<String> {
    let mut d: Vec<String> = advice.proposals.iter().map(|p| p.ddl.clone()).collect();
    d.sort();
    d
}

#[test]
fn s1_soft_deleted_feed_gets_three_composite_partial_indexes() {
    let messages = table(
        "messages",
        100_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("conversation_id", 0.0, 2000.0, 4, &[]),
            ("user_id", 0.0, 5000.0, 4, &[]),
            ("body", 0.0, -0.9, 60, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
            ("deleted_at", 0.9, -0.1, 8, &[]),
        ],
    );
    let content = table(
        "content",
        50_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("user_id", 0.0, 5000.0, 4, &[]),
            ("body", 0.0, -0.9, 60, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
            ("deleted_at", 0.9, -0.1, 8, &[]),
        ],
    );
    let snap = snapshot(
        vec![messages, content],
        vec![pkey("messages", "id"), pkey("content", "id")],
        vec![
            statement(1, 500, 12.0, "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2"),
            statement(2, 400, 11.0, "SELECT * FROM messages WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2"),
            statement(3, 300, 6.0, "SELECT * FROM content WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2"),
            statement(4, 1, 500.0, "CREATE TABLE x (a int)"),
        ],
    );
    let advice = advise(&snap);
    assert_eq!(
        ddls(&advice),
        [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS content_user_id_created_at_deleted_at_null_idx ON public.content USING btree (user_id, created_at DESC) WHERE deleted_at IS NULL",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_conversation_id_created_at_deleted_at_null_idx ON public.messages USING btree (conversation_id, created_at DESC) WHERE deleted_at IS NULL",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_user_id_created_at_deleted_at_null_idx ON public.messages USING btree (user_id, created_at DESC) WHERE deleted_at IS NULL",
        ]
    );
    let first = &advice.proposals[0];
    assert_eq!(first.table, "public.messages");
    assert_eq!(first.columns, ["conversation_id", "created_at DESC"]);
    assert_eq!(first.predicate.as_deref(), Some("deleted_at IS NULL"));
    assert_eq!(first.queryids, [1]);
    assert!(!first.verified);
    // Ranked by workload time: 500 x 12 ms first.
    assert_eq!(first.workload_time_ms, 6000.0);
}

#[test]
fn s2_outbox_gets_a_tiny_partial_index_and_no_index_for_the_key_update() {
    let outbox = table(
        "outbox_events",
        100_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("aggregate_type", 0.0, 5.0, 8, &[]),
            ("aggregate_id", 0.0, -0.5, 8, &[]),
            ("event_type", 0.0, 10.0, 12, &[]),
            ("payload", 0.0, -1.0, 200, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
            ("published_at", 0.0002, -0.99, 8, &[]),
        ],
    );
    let processed = table(
        "processed_messages",
        100_000.0,
        &[
            ("message_id", 0.0, -1.0, 36, &[]),
            ("consumer_group", 0.0, 4.0, 10, &[]),
            ("processed_at", 0.0, -1.0, 8, &[]),
        ],
    );
    let snap = snapshot(
        vec![outbox, processed],
        vec![pkey("outbox_events", "id")],
        vec![
            statement(1, 900, 9.0, "SELECT id, payload FROM outbox_events WHERE published_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED"),
            statement(2, 900, 0.05, "UPDATE outbox_events SET published_at = now() WHERE id = ANY($1)"),
            statement(3, 2000, 7.0, "SELECT $1 FROM processed_messages WHERE message_id = $2 AND consumer_group = $3"),
        ],
    );
    let advice = advise(&snap);
    assert_eq!(
        ddls(&advice),
        [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_events_created_at_published_at_null_idx ON public.outbox_events USING btree (created_at) WHERE published_at IS NULL",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS processed_messages_message_id_consumer_group_idx ON public.processed_messages USING btree (message_id, consumer_group)",
        ]
    );
    let outbox = advice
        .proposals
        .iter()
        .find(|p| p.table == "public.outbox_events")
        .unwrap();
    // The partial index is a small fraction of the full one.
    assert!(outbox.estimated_size_bytes * 50 < outbox.full_index_size_bytes);
    assert_eq!(outbox.predicate_fraction, Some(0.0002));
    // The UPDATE by primary key is served by the existing key.
    assert_eq!(advice.served_by_existing.len(), 1);
    assert_eq!(
        advice.served_by_existing[0].existing_index,
        "outbox_events_pkey"
    );
    assert_eq!(advice.served_by_existing[0].queryids, [2]);
}

#[test]
fn s3_archive_export_gets_one_index_for_all_three_statements() {
    let traffic = table(
        "traffic_events",
        90_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("event_date", 0.0, 60.0, 4, &[]),
            ("path", 0.0, 500.0, 20, &[]),
            ("status", 0.0, 5.0, 4, &[]),
            ("bytes", 0.0, -0.5, 8, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
        ],
    );
    let snap = snapshot(
        vec![traffic],
        vec![pkey("traffic_events", "id")],
        vec![
            statement(1, 300, 8.0, "SELECT * FROM traffic_events WHERE event_date = $1 LIMIT $2 OFFSET $3"),
            statement(2, 200, 20.0, "DELETE FROM traffic_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM traffic_events WHERE event_date = $1 LIMIT $2))"),
            statement(3, 100, 9.0, "SELECT count(*) FROM traffic_events WHERE event_date = $1"),
        ],
    );
    let advice = advise(&snap);
    assert_eq!(
        ddls(&advice),
        ["CREATE INDEX CONCURRENTLY IF NOT EXISTS traffic_events_event_date_idx ON public.traffic_events USING btree (event_date)"]
    );
    assert_eq!(advice.proposals[0].queryids, [1, 2, 3]);
}

#[test]
fn s5_a_healthy_database_gets_nothing() {
    let mut composite = pkey("orders", "customer_id");
    composite.name = "orders_customer_created_idx".into();
    composite.is_primary = false;
    composite.is_unique = false;
    composite.keys.push(IndexKey {
        column: Some("created_at".into()),
        expression: None,
        descending: false,
        nulls_first: false,
        opclass: None,
        collation: None,
    });
    let orders = table(
        "orders",
        100_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("customer_id", 0.0, 5000.0, 4, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
            ("total", 0.0, -0.5, 8, &[]),
        ],
    );
    let snap = snapshot(
        vec![orders],
        vec![pkey("orders", "id"), composite],
        vec![
            statement(1, 900, 0.1, "SELECT * FROM orders WHERE id = $1"),
            statement(2, 500, 0.2, "SELECT * FROM orders WHERE customer_id = $1"),
            statement(
                3,
                400,
                0.3,
                "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
            ),
            statement(4, 100, 0.3, "UPDATE orders SET total = $1 WHERE id = $2"),
        ],
    );
    let advice = advise(&snap);
    assert!(advice.proposals.is_empty(), "{:#?}", advice.proposals);
    assert_eq!(advice.served_by_existing.len(), 2);
}

#[test]
fn merges_prefixes_and_skips_cold_statements() {
    let t = table(
        "events",
        100_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("tenant_id", 0.0, 100.0, 4, &[]),
            ("kind", 0.0, 10.0, 4, &[]),
            ("created_at", 0.0, -1.0, 8, &[]),
            ("active", 0.0, 2.0, 1, &[("t", 0.2), ("f", 0.8)]),
        ],
    );
    let snap = snapshot(
        vec![t],
        vec![pkey("events", "id")],
        vec![
            statement(
                1,
                100,
                5.0,
                "SELECT * FROM events WHERE tenant_id = $1 AND kind = $2 AND created_at > $3",
            ),
            statement(2, 100, 5.0, "SELECT * FROM events WHERE tenant_id = $1"),
            statement(3, 1, 5000.0, "SELECT * FROM events WHERE kind = $1"),
            statement(
                4,
                100,
                5.0,
                "SELECT * FROM events WHERE kind = $1 AND active",
            ),
        ],
    );
    let advice = advise(&snap);
    assert_eq!(
        ddls(&advice),
        [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_kind_active_true_idx ON public.events USING btree (kind) WHERE active",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_tenant_id_kind_created_at_idx ON public.events USING btree (tenant_id, kind, created_at)",
        ]
    );
    let merged = advice
        .proposals
        .iter()
        .find(|p| p.name == "events_tenant_id_kind_created_at_idx")
        .unwrap();
    assert_eq!(merged.queryids, [1, 2]);
}

#[test]
fn table_filters_take_qualified_and_bare_names() {
    let f = TableFilter {
        include: vec!["public.messages".into(), "content".into()],
        exclude: vec!["archive.content".into()],
    };
    let t = |s: &str, n: &str| QualifiedName::new(s, n);
    assert!(f.admits(&t("public", "messages")));
    assert!(!f.admits(&t("other", "messages")));
    assert!(f.admits(&t("other", "content")));
    assert!(!f.admits(&t("archive", "content")));
    assert!(!f.admits(&t("public", "users")));
    assert!(TableFilter::default().admits(&t("x", "y")));
}

#[test]
fn expressions_and_or_branches() {
    let users = table(
        "users",
        100_000.0,
        &[
            ("id", 0.0, -1.0, 8, &[]),
            ("email", 0.0, -1.0, 24, &[]),
            ("phone", 0.3, -0.7, 12, &[]),
            ("org_id", 0.0, 300.0, 4, &[]),
        ],
    );
    let snap = snapshot(
        vec![users],
        vec![pkey("users", "id")],
        vec![
            statement(1, 100, 5.0, "SELECT id FROM users WHERE lower(email) = $1"),
            statement(
                2,
                100,
                5.0,
                "SELECT id FROM users WHERE phone = $1 OR org_id = $2",
            ),
            // One branch cannot use an index: no index for either.
            statement(
                3,
                100,
                5.0,
                "SELECT id FROM users WHERE email = $1 OR phone <> $2",
            ),
        ],
    );
    let advice = advise(&snap);
    assert_eq!(
        ddls(&advice),
        [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_lower_email_idx ON public.users USING btree ((lower(email)))",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_org_id_idx ON public.users USING btree (org_id)",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_phone_idx ON public.users USING btree (phone)",
        ]
    );
}
