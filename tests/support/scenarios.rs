//! The acceptance scenarios of `/work/shared/SCENARIOS.md` as fixtures: schema,
//! generated data of realistic shape, and the hot queries run as a real
//! workload so pg_stat_statements and pg_stat_user_tables see them.
//!
//! Each loader returns a [`Scenario`]: the database, the hot query texts exactly
//! as pg_stat_statements shows them (with their call counts), and the indexes the
//! advice is expected to propose, as plain data taken from SCENARIOS.md.

use super::TestDb;
use bytes::BufMut;
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Client;

/// Calls per hot query: enough to dominate pg_stat_statements, few enough that
/// the four scenarios' sequential scans stay within seconds on 2 cores.
pub const HOT_CALLS: i64 = 200;

/// A loaded scenario.
pub struct Scenario {
    pub name: &'static str,
    pub db: TestDb,
    pub hot_queries: Vec<HotQuery>,
    /// The advice SCENARIOS.md expects; empty for the healthy database (S5).
    pub expected_indexes: Vec<ExpectedIndex>,
}

/// A query the workload ran many times.
#[derive(Debug, Clone)]
pub struct HotQuery {
    /// The SQL the application prepares (SCENARIOS.md's text).
    pub sql: &'static str,
    /// Exactly as pg_stat_statements shows it: constants such as `LIMIT 50`
    /// become parameters numbered after the application's own.
    pub text: &'static str,
    pub calls: i64,
    /// Literal arguments for `EXECUTE`, e.g. `(42)`: lets a test EXPLAIN the very text.
    pub sample_args: &'static str,
}

/// An index the advice should propose.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedIndex {
    pub table: &'static str,
    pub keys: Vec<ExpectedKey>,
    /// Partial index predicate, as written in SCENARIOS.md.
    pub predicate: Option<&'static str>,
    pub key_match: KeyMatch,
    /// The hot queries this index serves (their `sql`).
    pub serves: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpectedKey {
    pub column: &'static str,
    pub descending: bool,
}

/// How strictly a proposal's keys must match [`ExpectedIndex::keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// These keys, in this order.
    Exact,
    /// These keys in any order: all are equality columns.
    AnyOrder,
    /// These keys first; more may follow.
    Leading,
}

const fn asc(column: &'static str) -> ExpectedKey {
    ExpectedKey {
        column,
        descending: false,
    }
}

const fn desc(column: &'static str) -> ExpectedKey {
    ExpectedKey {
        column,
        descending: true,
    }
}

impl ExpectedIndex {
    /// A plain `CREATE INDEX` of this index, for proving the planner uses it.
    pub fn create_statement(&self, index_name: &str) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                if k.descending {
                    format!("{} DESC", k.column)
                } else {
                    k.column.to_string()
                }
            })
            .collect();
        let predicate = self
            .predicate
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default();
        format!(
            "CREATE INDEX {index_name} ON {} ({}){predicate}",
            self.table,
            keys.join(", ")
        )
    }
}

impl Scenario {
    pub fn hot_query(&self, sql: &str) -> &HotQuery {
        self.hot_queries
            .iter()
            .find(|q| q.sql == sql)
            .unwrap_or_else(|| panic!("{sql} is not a hot query of {}", self.name))
    }
}

/// A `date` parameter: days since 2000-01-01, PostgreSQL's binary form.
/// (tokio-postgres binds dates only through chrono/time; one i32 is all we need.)
#[derive(Debug, Clone, Copy)]
pub struct PgDate(pub i32);

/// 2024-01-01 as days since 2000-01-01: 24 years of which 6 leap (2000..=2020).
pub const JAN_1_2024: i32 = 24 * 365 + 6;

impl ToSql for PgDate {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    to_sql_checked!();
}

/// Creates the schema and data, analyzes, and resets pg_stat_statements so only
/// the workload that follows is counted. The loading connection is closed.
pub async fn load(prefix: &str, schema_and_data: &str) -> TestDb {
    fill(TestDb::create(prefix).await, prefix, schema_and_data).await
}

/// [`load`] into a database whose collation is `collation` (`C.UTF-8`; the
/// test cluster's own is C).
pub async fn load_collated(prefix: &str, collation: &str, schema_and_data: &str) -> TestDb {
    let db = TestDb::create_with_collation(prefix, collation).await;
    fill(db, prefix, schema_and_data).await
}

async fn fill(db: TestDb, prefix: &str, schema_and_data: &str) -> TestDb {
    let admin = db.client().await;
    admin
        .batch_execute(schema_and_data)
        .await
        .unwrap_or_else(|e| panic!("loading {prefix}: {e:?}"));
    admin.batch_execute("ANALYZE").await.expect("ANALYZE");
    db.reset_statements(&admin).await;
    db
}

// ---------------------------------------------------------------- S1

pub const S1_MESSAGES_BY_CONVERSATION: &str = "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 50";
pub const S1_MESSAGES_BY_USER: &str = "SELECT * FROM messages WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 20";
pub const S1_CONTENT_BY_USER: &str = "SELECT * FROM content WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 20";

/// 50k messages over 500 conversations and 1k users, 25k content rows by 500
/// of those users; one row in ten soft-deleted a couple of hours after it was
/// written. Each conversation and user has more rows than the feed's LIMIT, so
/// an index in feed order ends the scan early. Only primary keys.
const S1_SCHEMA: &str = r#"
    CREATE TABLE messages (
        id bigint PRIMARY KEY,
        conversation_id int NOT NULL,
        user_id int NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz
    );
    INSERT INTO messages
    SELECT g,
           1 + (g * 7919) % 500,
           1 + (g::bigint * 104729) % 1000,
           'message ' || g || ' ' || repeat('lorem ipsum ', 1 + g % 8),
           timestamptz '2024-01-01' + g * interval '150 seconds',
           CASE WHEN g % 10 = 3 THEN timestamptz '2024-01-01' + g * interval '150 seconds' + interval '2 hours' END
    FROM generate_series(1, 50000) g;

    CREATE TABLE content (
        id bigint PRIMARY KEY,
        user_id int NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz
    );
    INSERT INTO content
    SELECT g,
           1 + (g * 7919) % 500,
           'post ' || g || ' ' || repeat('dolor sit amet ', 1 + g % 12),
           timestamptz '2024-01-01' + g * interval '5 minutes',
           CASE WHEN g % 10 = 7 THEN timestamptz '2024-01-01' + g * interval '5 minutes' + interval '1 day' END
    FROM generate_series(1, 25000) g;
"#;

pub async fn s1_soft_deleted_feed() -> Scenario {
    let db = load("s1", S1_SCHEMA).await;
    {
        let app = db.client().await;
        let by_conversation = app.prepare(S1_MESSAGES_BY_CONVERSATION).await.unwrap();
        let by_user = app.prepare(S1_MESSAGES_BY_USER).await.unwrap();
        let content_by_user = app.prepare(S1_CONTENT_BY_USER).await.unwrap();
        for i in 0..HOT_CALLS as i32 {
            let conversation = 1 + (i * 37) % 500;
            let user = 1 + (i * 211) % 1000;
            app.query(&by_conversation, &[&conversation]).await.unwrap();
            app.query(&by_user, &[&user]).await.unwrap();
            let author = 1 + (i * 53) % 500;
            app.query(&content_by_user, &[&author]).await.unwrap();
        }
    }
    Scenario {
        name: "S1 soft-deleted feed",
        db,
        hot_queries: vec![
            hot(S1_MESSAGES_BY_CONVERSATION, "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2", HOT_CALLS, "(42)"),
            hot(S1_MESSAGES_BY_USER, "SELECT * FROM messages WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2", HOT_CALLS, "(42)"),
            hot(S1_CONTENT_BY_USER, "SELECT * FROM content WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2", HOT_CALLS, "(42)"),
        ],
        expected_indexes: vec![
            ExpectedIndex {
                table: "messages",
                keys: vec![asc("conversation_id"), desc("created_at")],
                predicate: Some("deleted_at IS NULL"),
                key_match: KeyMatch::Exact,
                serves: &[S1_MESSAGES_BY_CONVERSATION],
            },
            ExpectedIndex {
                table: "messages",
                keys: vec![asc("user_id"), desc("created_at")],
                predicate: Some("deleted_at IS NULL"),
                key_match: KeyMatch::Exact,
                serves: &[S1_MESSAGES_BY_USER],
            },
            ExpectedIndex {
                table: "content",
                keys: vec![asc("user_id"), desc("created_at")],
                predicate: Some("deleted_at IS NULL"),
                key_match: KeyMatch::Exact,
                serves: &[S1_CONTENT_BY_USER],
            },
        ],
    }
}

fn hot(sql: &'static str, text: &'static str, calls: i64, sample_args: &'static str) -> HotQuery {
    HotQuery {
        sql,
        text,
        calls,
        sample_args,
    }
}

// ---------------------------------------------------------------- S2

pub const S2_CLAIM_UNPUBLISHED: &str = "SELECT id, payload FROM outbox_events WHERE published_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED";
pub const S2_MARK_PUBLISHED: &str =
    "UPDATE outbox_events SET published_at = now() WHERE id = ANY($1)";
pub const S2_ALREADY_PROCESSED: &str =
    "SELECT 1 FROM processed_messages WHERE message_id = $1 AND consumer_group = $2";
/// The producer side: not hot, but it keeps a handful of events unpublished.
pub const S2_PRODUCE: &str = "INSERT INTO outbox_events (aggregate_type, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4::text::jsonb)";

/// 50k published events and 20 unpublished (0.04%); 50k processed messages
/// across four consumer groups, with no index at all.
const S2_SCHEMA: &str = r#"
    CREATE TABLE outbox_events (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        aggregate_type text NOT NULL,
        aggregate_id bigint NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
    );
    INSERT INTO outbox_events (aggregate_type, aggregate_id, event_type, payload, created_at, published_at)
    SELECT (ARRAY['order', 'customer', 'invoice', 'shipment'])[1 + g % 4],
           (g * 7919) % 20000,
           (ARRAY['created', 'updated', 'cancelled'])[1 + g % 3],
           jsonb_build_object('seq', g, 'amount_cents', (g * 31) % 99991, 'currency', 'EUR'),
           now() - (50021 - g) * interval '10 seconds',
           CASE WHEN g <= 50000 THEN now() - (50021 - g) * interval '10 seconds' + interval '800 milliseconds' END
    FROM generate_series(1, 50020) g;

    CREATE TABLE processed_messages (
        message_id text NOT NULL,
        consumer_group text NOT NULL,
        processed_at timestamptz NOT NULL
    );
    INSERT INTO processed_messages
    SELECT 'msg-' || md5(g::text),
           (ARRAY['billing', 'shipping', 'analytics', 'notifications'])[1 + g % 4],
           now() - g * interval '5 seconds'
    FROM generate_series(1, 50000) g;
"#;

pub async fn s2_transactional_outbox() -> Scenario {
    let db = load("s2", S2_SCHEMA).await;
    // Message ids the consumers have seen; read before the workload, outside its connection.
    let seen: Vec<(String, String)> = {
        let admin = db.client().await;
        admin
            .query(
                "SELECT message_id, consumer_group FROM processed_messages ORDER BY processed_at DESC LIMIT 100",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    {
        let mut app = db.client().await;
        let produce = app.prepare(S2_PRODUCE).await.unwrap();
        let claim = app.prepare(S2_CLAIM_UNPUBLISHED).await.unwrap();
        let mark = app.prepare(S2_MARK_PUBLISHED).await.unwrap();
        let already = app.prepare(S2_ALREADY_PROCESSED).await.unwrap();
        for i in 0..HOT_CALLS {
            // Producers add as many events as the relay publishes next, so the
            // backlog stays the same handful.
            let batch_size: i64 = [1, 2, 1, 1][i as usize % 4];
            for n in 0..batch_size {
                let seq = 50_020 + 2 * i + n;
                let payload = format!(r#"{{"seq": {seq}, "amount_cents": {}}}"#, seq % 9973);
                app.query(&produce, &[&"order", &(seq % 20_000), &"created", &payload])
                    .await
                    .unwrap();
            }

            // The relay: claim the oldest unpublished events, publish them, commit.
            let tx = app.transaction().await.unwrap();
            let claimed: Vec<i64> = tx
                .query(&claim, &[&batch_size])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.query(&mark, &[&claimed]).await.unwrap();
            tx.commit().await.unwrap();

            // The consumer's idempotency check: mostly new messages, some redeliveries.
            let (message_id, group) = if i % 4 == 0 {
                seen[i as usize % seen.len()].clone()
            } else {
                (format!("msg-new-{i:06}"), "billing".to_string())
            };
            app.query(&already, &[&message_id, &group]).await.unwrap();
        }
    }
    Scenario {
        name: "S2 transactional outbox",
        db,
        hot_queries: vec![
            hot(
                S2_CLAIM_UNPUBLISHED,
                S2_CLAIM_UNPUBLISHED,
                HOT_CALLS,
                "(10)",
            ),
            hot(
                S2_MARK_PUBLISHED,
                S2_MARK_PUBLISHED,
                HOT_CALLS,
                "('{1,2,3}')",
            ),
            hot(
                S2_ALREADY_PROCESSED,
                "SELECT $3 FROM processed_messages WHERE message_id = $1 AND consumer_group = $2",
                HOT_CALLS,
                "('msg-c4ca4238a0b923820dcc509a6f75849b', 'shipping')",
            ),
        ],
        expected_indexes: vec![
            ExpectedIndex {
                table: "outbox_events",
                keys: vec![asc("created_at")],
                predicate: Some("published_at IS NULL"),
                key_match: KeyMatch::Exact,
                serves: &[S2_CLAIM_UNPUBLISHED],
            },
            ExpectedIndex {
                table: "processed_messages",
                keys: vec![asc("message_id"), asc("consumer_group")],
                predicate: None,
                key_match: KeyMatch::AnyOrder,
                serves: &[S2_ALREADY_PROCESSED],
            },
        ],
    }
}

// ---------------------------------------------------------------- S3

pub const S3_EXPORT_PAGE: &str =
    "SELECT * FROM traffic_events WHERE event_date = $1 LIMIT $2 OFFSET $3";
pub const S3_PURGE_BATCH: &str = "DELETE FROM traffic_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM traffic_events WHERE event_date = $1 LIMIT $2))";
pub const S3_COUNT_DAY: &str = "SELECT count(*) FROM traffic_events WHERE event_date = $1";

/// Events per day and days kept: 90k rows, written in time order.
pub const S3_EVENTS_PER_DAY: i64 = 1500;
pub const S3_DAYS: i32 = 60;

const S3_SCHEMA: &str = r#"
    CREATE TABLE traffic_events (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_date date NOT NULL,
        path text NOT NULL,
        status int NOT NULL,
        bytes bigint NOT NULL,
        created_at timestamptz NOT NULL
    );
    INSERT INTO traffic_events (event_date, path, status, bytes, created_at)
    SELECT date '2024-01-01' + g / 1500,
           (ARRAY['/', '/login', '/api/orders', '/api/items', '/static/app.js'])[1 + g % 5]
               || CASE WHEN g % 5 IN (2, 3) THEN '/' || (g * 7919) % 977 ELSE '' END,
           (ARRAY[200, 200, 200, 200, 200, 200, 304, 404, 500, 301])[1 + (g * 13) % 10],
           200 + (g * 7919) % 50000,
           timestamptz '2024-01-01' + g * (interval '1 day' / 1500)
    FROM generate_series(0, 60 * 1500 - 1) g;
"#;

/// Rows the purge deletes per call: a few, so the archive keeps its shape.
pub const S3_PURGE_BATCH_ROWS: i64 = 5;

pub async fn s3_archive_export() -> Scenario {
    let db = load("s3", S3_SCHEMA).await;
    {
        let app = db.client().await;
        let page = app.prepare(S3_EXPORT_PAGE).await.unwrap();
        let purge = app.prepare(S3_PURGE_BATCH).await.unwrap();
        let count = app.prepare(S3_COUNT_DAY).await.unwrap();
        let page_size: i64 = 500;
        for i in 0..HOT_CALLS as i32 {
            // The export walks recent days page by page; the purge trims the oldest day.
            let day = PgDate(JAN_1_2024 + 10 + i % (S3_DAYS - 10));
            let offset = i64::from(i % 3) * page_size;
            app.query(&page, &[&day, &page_size, &offset])
                .await
                .unwrap();
            app.query(&purge, &[&PgDate(JAN_1_2024), &S3_PURGE_BATCH_ROWS])
                .await
                .unwrap();
            app.query(&count, &[&day]).await.unwrap();
        }
    }
    Scenario {
        name: "S3 archive export",
        db,
        hot_queries: vec![
            hot(
                S3_EXPORT_PAGE,
                S3_EXPORT_PAGE,
                HOT_CALLS,
                "('2024-02-10', 500, 1000)",
            ),
            hot(
                S3_PURGE_BATCH,
                S3_PURGE_BATCH,
                HOT_CALLS,
                "('2024-01-01', 5)",
            ),
            hot(S3_COUNT_DAY, S3_COUNT_DAY, HOT_CALLS, "('2024-02-10')"),
        ],
        expected_indexes: vec![ExpectedIndex {
            table: "traffic_events",
            keys: vec![asc("event_date")],
            predicate: None,
            key_match: KeyMatch::Leading,
            serves: &[S3_EXPORT_PAGE, S3_PURGE_BATCH, S3_COUNT_DAY],
        }],
    }
}

// ---------------------------------------------------------------- S5

pub const S5_ACCOUNT_BY_ID: &str = "SELECT * FROM accounts WHERE id = $1";
pub const S5_ORDERS_OF_ACCOUNT: &str =
    "SELECT id, status, total_cents FROM orders WHERE account_id = $1";
pub const S5_RECENT_ORDERS: &str = "SELECT id, status, total_cents, created_at FROM orders WHERE account_id = $1 ORDER BY created_at DESC LIMIT 10";
pub const S5_ORDER_BY_ID: &str = "SELECT * FROM orders WHERE id = $1";
/// The composite index whose prefix serves the per-account lookups.
pub const S5_COMPOSITE_INDEX: &str = "orders_account_id_created_at_idx";

/// 5k accounts, 100k orders (20 per account); primary keys and one composite index.
const S5_SCHEMA: &str = r#"
    CREATE TABLE accounts (
        id bigint PRIMARY KEY,
        email text NOT NULL,
        plan text NOT NULL,
        created_at timestamptz NOT NULL
    );
    INSERT INTO accounts
    SELECT g, 'user' || g || '@example.com',
           (ARRAY['free', 'free', 'free', 'pro', 'team'])[1 + g % 5],
           timestamptz '2023-01-01' + g * interval '1 hour'
    FROM generate_series(1, 5000) g;

    CREATE TABLE orders (
        id bigint PRIMARY KEY,
        account_id bigint NOT NULL,
        status text NOT NULL,
        total_cents int NOT NULL,
        created_at timestamptz NOT NULL
    );
    INSERT INTO orders
    SELECT g, 1 + (g * 7919) % 5000,
           (ARRAY['paid', 'paid', 'paid', 'shipped', 'refunded'])[1 + g % 5],
           100 + (g * 31) % 20000,
           timestamptz '2024-01-01' + g * interval '3 minutes'
    FROM generate_series(1, 100000) g;
    CREATE INDEX orders_account_id_created_at_idx ON orders (account_id, created_at);
"#;

pub async fn s5_healthy() -> Scenario {
    let db = load("s5", S5_SCHEMA).await;
    {
        let app = db.client().await;
        let account = app.prepare(S5_ACCOUNT_BY_ID).await.unwrap();
        let orders_of = app.prepare(S5_ORDERS_OF_ACCOUNT).await.unwrap();
        let recent = app.prepare(S5_RECENT_ORDERS).await.unwrap();
        let order = app.prepare(S5_ORDER_BY_ID).await.unwrap();
        for i in 0..HOT_CALLS {
            let account_id = 1 + (i * 37) % 5000;
            app.query(&account, &[&account_id]).await.unwrap();
            app.query(&orders_of, &[&account_id]).await.unwrap();
            app.query(&recent, &[&account_id]).await.unwrap();
            app.query(&order, &[&(1 + (i * 7717) % 100_000)])
                .await
                .unwrap();
        }
    }
    Scenario {
        name: "S5 healthy database",
        db,
        hot_queries: vec![
            hot(S5_ACCOUNT_BY_ID, S5_ACCOUNT_BY_ID, HOT_CALLS, "(42)"),
            hot(S5_ORDERS_OF_ACCOUNT, S5_ORDERS_OF_ACCOUNT, HOT_CALLS, "(42)"),
            hot(S5_RECENT_ORDERS, "SELECT id, status, total_cents, created_at FROM orders WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2", HOT_CALLS, "(42)"),
            hot(S5_ORDER_BY_ID, S5_ORDER_BY_ID, HOT_CALLS, "(4242)"),
        ],
        expected_indexes: Vec::new(),
    }
}

// ---------------------------------------------------------------- S6

pub const S6_RECENT_BY_STATUS: &str =
    "SELECT id, total_cents FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT 20";
pub const S6_ORDERS_IN_WINDOW: &str =
    "SELECT id, status FROM orders WHERE created_at >= $1 AND created_at < $2";
pub const S6_ORDER_BY_REFERENCE: &str = "SELECT id, status FROM orders WHERE reference = $1";
pub const S6_CUSTOMER_BY_ID: &str = "SELECT * FROM customers WHERE id = $1";
pub const S6_SET_STATUS: &str = "UPDATE orders SET status = $1 WHERE id = $2";

/// The left-overs S6 plants, by name.
pub const S6_INVALID: &str = "customers_email_key";
pub const S6_DUPLICATE: &str = "orders_created_at_dup";
pub const S6_DUPLICATE_KEPT: &str = "orders_created_at_idx";
pub const S6_DUPLICATE_OF_CONSTRAINT: &str = "orders_reference_idx";
pub const S6_CONSTRAINT_INDEX: &str = "orders_reference_key";
pub const S6_REDUNDANT: &str = "orders_status_idx";
pub const S6_REDUNDANT_COVER: &str = "orders_status_created_at_idx";
pub const S6_UNUSED: &str = "orders_total_cents_idx";
pub const S6_FOREIGN_KEY: &str = "orders_customer_id_fkey";
pub const S6_DEAD_TUPLES_TABLE: &str = "order_events";

/// 20k customers and 100k orders. Left-overs: a unique index on
/// customers.email whose concurrent build failed on a duplicate (cleaned up
/// since, so a rebuild succeeds); orders_created_at_dup, an exact copy of
/// orders_created_at_idx; orders_reference_idx, a plain copy of the UNIQUE
/// constraint's index; orders_status_idx, a left prefix of
/// orders_status_created_at_idx; orders_total_cents_idx, never scanned; and
/// orders.customer_id, a foreign key with no index; and order_events, half
/// its rows dead with autovacuum off for it.
const S6_SCHEMA: &str = r#"
    CREATE TABLE customers (
        id bigint PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL
    );
    INSERT INTO customers
    SELECT g, 'customer' || g || '@example.com', 'Customer ' || g,
           timestamptz '2023-01-01' + g * interval '20 minutes'
    FROM generate_series(1, 20000) g;
    UPDATE customers SET email = 'customer1@example.com' WHERE id = 2;

    CREATE TABLE orders (
        id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customers (id),
        reference text NOT NULL UNIQUE,
        status text NOT NULL,
        total_cents int NOT NULL,
        created_at timestamptz NOT NULL
    );
    INSERT INTO orders
    SELECT g, 1 + (g * 7919) % 20000, 'ORD-' || lpad(g::text, 8, '0'),
           (ARRAY['pending', 'paid', 'paid', 'paid', 'shipped', 'shipped', 'refunded', 'cancelled'])[1 + g % 8],
           100 + (g * 31) % 50000,
           timestamptz '2024-01-01' + g * interval '5 minutes'
    FROM generate_series(1, 100000) g;
    CREATE INDEX orders_created_at_idx ON orders (created_at);
    CREATE INDEX orders_created_at_dup ON orders (created_at);
    CREATE INDEX orders_reference_idx ON orders (reference);
    CREATE INDEX orders_status_created_at_idx ON orders (status, created_at);
    CREATE INDEX orders_status_idx ON orders (status);
    CREATE INDEX orders_total_cents_idx ON orders (total_cents);

    -- An append-and-purge log whose autovacuum was switched off and forgotten.
    CREATE TABLE order_events (
        id bigint PRIMARY KEY,
        order_id bigint NOT NULL,
        kind text NOT NULL,
        at timestamptz NOT NULL
    ) WITH (autovacuum_enabled = false);
    INSERT INTO order_events
    SELECT g, 1 + g % 100000, (ARRAY['created', 'paid', 'shipped'])[1 + g % 3],
           timestamptz '2024-01-01' + g * interval '1 minute'
    FROM generate_series(1, 40000) g;
    DELETE FROM order_events WHERE id % 2 = 0;
"#;

pub async fn s6_leftovers() -> Scenario {
    let db = TestDb::create("s6").await;
    {
        let admin = db.client().await;
        admin
            .batch_execute(S6_SCHEMA)
            .await
            .unwrap_or_else(|e| panic!("loading s6: {e:?}"));
        // A concurrent build that fails on the duplicate email leaves an INVALID index.
        let failed = admin
            .batch_execute(
                "CREATE UNIQUE INDEX CONCURRENTLY customers_email_key ON customers (email)",
            )
            .await;
        assert!(
            failed.is_err(),
            "the unique build should fail on the duplicate"
        );
        // The duplicate is fixed since; the invalid index stayed behind.
        admin
            .batch_execute("UPDATE customers SET email = 'customer2@example.com' WHERE id = 2")
            .await
            .unwrap();
        admin.batch_execute("ANALYZE").await.expect("ANALYZE");
        db.reset_statements(&admin).await;
    }
    {
        let app = db.client().await;
        let recent = app.prepare(S6_RECENT_BY_STATUS).await.unwrap();
        let window = app.prepare(S6_ORDERS_IN_WINDOW).await.unwrap();
        let by_reference = app.prepare(S6_ORDER_BY_REFERENCE).await.unwrap();
        let customer = app.prepare(S6_CUSTOMER_BY_ID).await.unwrap();
        let set_status = app.prepare(S6_SET_STATUS).await.unwrap();
        let statuses = ["pending", "paid", "shipped", "refunded"];
        for i in 0..HOT_CALLS {
            app.query(&recent, &[&statuses[i as usize % statuses.len()]])
                .await
                .unwrap();
            let day = i % 300;
            app.query(
                &window,
                &[
                    &TimestampTz(day * 86_400),
                    &TimestampTz(day * 86_400 + 3_600),
                ],
            )
            .await
            .unwrap();
            let reference = format!("ORD-{:08}", 1 + (i * 389) % 100_000);
            app.query(&by_reference, &[&reference]).await.unwrap();
            app.query(&customer, &[&(1 + (i * 97) % 20_000)])
                .await
                .unwrap();
            app.execute(&set_status, &[&"shipped", &(1 + (i * 7717) % 100_000)])
                .await
                .unwrap();
        }
    }
    Scenario {
        name: "S6 left-overs and waste",
        db,
        hot_queries: vec![
            hot(S6_RECENT_BY_STATUS, "SELECT id, total_cents FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT $2", HOT_CALLS, "('paid')"),
            hot(S6_ORDERS_IN_WINDOW, S6_ORDERS_IN_WINDOW, HOT_CALLS, "('2024-02-01', '2024-02-02')"),
            hot(S6_ORDER_BY_REFERENCE, S6_ORDER_BY_REFERENCE, HOT_CALLS, "('ORD-00000042')"),
            hot(S6_CUSTOMER_BY_ID, S6_CUSTOMER_BY_ID, HOT_CALLS, "(42)"),
            hot(S6_SET_STATUS, S6_SET_STATUS, HOT_CALLS, "('paid', 42)"),
        ],
        expected_indexes: Vec::new(),
    }
}

/// A `timestamptz` parameter: seconds after 2024-01-01 00:00 UTC, sent in
/// PostgreSQL's binary form (microseconds since 2000-01-01).
#[derive(Debug, Clone, Copy)]
pub struct TimestampTz(pub i64);

impl ToSql for TimestampTz {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let since_2000 = (i64::from(JAN_1_2024) * 86_400 + self.0) * 1_000_000;
        out.put_i64(since_2000);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

/// The plan of `query` for `sample_args`, as text: PREPARE + EXPLAIN EXECUTE, so
/// the exact workload text is planned (a custom plan, with the values known).
pub async fn explain(client: &Client, query: &HotQuery) -> String {
    client
        .batch_execute(&format!(
            "DEALLOCATE ALL; PREPARE scenario_query AS {}",
            query.sql
        ))
        .await
        .unwrap_or_else(|e| panic!("PREPARE {}: {e:?}", query.sql));
    let rows = client
        .simple_query(&format!(
            "EXPLAIN (COSTS OFF) EXECUTE scenario_query{}",
            query.sample_args
        ))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {}: {e:?}", query.sql));
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
