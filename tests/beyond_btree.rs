//! Indexes beyond the btree, end to end on a real server: one scenario per
//! kind (jsonb, arrays, full-text search on an expression and on a stored
//! tsvector, trigram substring search). Each runs its workload, expects the
//! proposal (method, operator class, unverified with the reason why), then
//! builds the proposed index for real from the proposal's own DDL and checks
//! the statement's plan reads through it — which proves the expression and
//! operator class match what the planner needs — and that a second scan
//! proposes nothing more.

mod support;

use serde_json::Value;
use std::path::Path;
use support::tools::assert_squawk_clean;
use support::{pgadvise, scenarios, TestDb};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

/// Calls of each statement of a workload: hot enough to be advised on.
const CALLS: usize = 20;

fn scan_json(db: &TestDb, extra: &[&str]) -> Value {
    let out = pgadvise()
        .args(["scan", "--quiet", "--format", "json"])
        .args(extra)
        .arg(&db.url)
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

fn proposals_on<'a>(report: &'a Value, table: &str) -> Vec<&'a Value> {
    report["indexes"]
        .as_array()
        .expect("indexes array")
        .iter()
        .filter(|p| p["table"] == format!("public.{table}"))
        .collect()
}

/// Runs `sql` CALLS times, each time with the parameters `args(i)` gives.
async fn run_workload<F>(client: &Client, sql: &str, args: F)
where
    F: Fn(usize) -> Vec<Box<dyn ToSql + Sync + Send>>,
{
    let statement = client
        .prepare(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    for i in 0..CALLS {
        let values = args(i);
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        client
            .query(&statement, &refs)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Builds the proposed index from its DDL, analyzes, and returns the plan of
/// `explain_sql` (the statement with sample values).
async fn build_and_explain(client: &Client, ddl: &str, explain_sql: &str) -> String {
    client
        .batch_execute(ddl)
        .await
        .unwrap_or_else(|e| panic!("{ddl}: {e}"));
    client.batch_execute("ANALYZE").await.expect("ANALYZE");
    let rows = client
        .simple_query(&format!("EXPLAIN (COSTS OFF) {explain_sql}"))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {explain_sql}: {e}"));
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds `proposal` from its DDL and checks that the plan of `explain_sql`
/// reads through it with a Bitmap Index Scan (which proves the expression and
/// operator class match); its name.
async fn build_and_assert_bitmap_scan<'p>(
    client: &Client,
    proposal: &'p Value,
    explain_sql: &str,
) -> &'p str {
    let ddl = proposal["ddl"].as_str().expect("ddl");
    let name = proposal["name"].as_str().expect("name");
    let plan = build_and_explain(client, ddl, explain_sql).await;
    assert!(
        plan.contains(&format!("Bitmap Index Scan on {name}")),
        "{plan}"
    );
    name
}

/// The one proposal on `table`: GIN, the expected key, unverified with the
/// reason and its evidence.
fn assert_gin_proposal<'a>(report: &'a Value, table: &str, column: &str) -> &'a Value {
    let found = proposals_on(report, table);
    assert_eq!(found.len(), 1, "one proposal on {table}: {report:#}");
    let p = found[0];
    assert_eq!(p["method"], "gin", "{p:#}");
    assert_eq!(p["columns"], serde_json::json!([column]), "{p:#}");
    assert_eq!(p["verified"], false, "{p:#}");
    let why = p["verification"].as_str().unwrap_or_default();
    assert!(
        why.contains("hypopg cannot simulate GIN")
            && why.contains("estimated at")
            && why.contains("pending list")
            && why.contains("pgadvise verify"),
        "verification reason with evidence: {p:#}"
    );
    assert!(
        p["ddl"]
            .as_str()
            .unwrap_or_default()
            .starts_with("CREATE INDEX CONCURRENTLY IF NOT EXISTS "),
        "{p:#}"
    );
    p
}

/// A second scan after the build proposes nothing on the table, and says
/// which existing index serves the statements.
fn assert_served_after_build(db: &TestDb, table: &str, index: &str, extra: &[&str]) {
    let again = scan_json(db, extra);
    assert!(
        proposals_on(&again, table).is_empty(),
        "the built index serves {table}: {again:#}"
    );
    let out = pgadvise()
        .args(["scan", "--quiet"])
        .args(extra)
        .arg(&db.url)
        .output()
        .expect("running pgadvise");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("already served: ") && l.ends_with(&format!(" by {index}"))),
        "{index} listed as serving:\n{text}"
    );
}

#[tokio::test]
async fn jsonb_containment_gets_gin_jsonb_path_ops_and_existence_gets_jsonb_ops() {
    let db = scenarios::load(
        "bb_jsonb",
        "CREATE TABLE products (id bigint PRIMARY KEY, specs jsonb NOT NULL);
         INSERT INTO products SELECT g, jsonb_build_object('sku', g, 'color', 'c' || g % 50,
                'size', g % 1000) FROM generate_series(1, 100000) g;
         CREATE TABLE catalog (id bigint PRIMARY KEY, attrs jsonb NOT NULL);
         INSERT INTO catalog SELECT g, jsonb_build_object('k' || g, true, 'sku', g)
           FROM generate_series(1, 100000) g;",
    )
    .await;
    let app = db.client().await;
    run_workload(
        &app,
        "SELECT id FROM products WHERE specs @> $1::text::jsonb",
        |i| vec![Box::new(format!("{{\"sku\": {}}}", 1 + i * 97))],
    )
    .await;
    // Containment and key existence on one column: only jsonb_ops has both.
    run_workload(
        &app,
        "SELECT id FROM catalog WHERE attrs @> $1::text::jsonb",
        |i| vec![Box::new(format!("{{\"sku\": {}}}", 1 + i))],
    )
    .await;
    run_workload(&app, "SELECT id FROM catalog WHERE attrs ? $1", |i| {
        vec![Box::new(format!("k{}", 1 + i * 13))]
    })
    .await;

    let report = scan_json(&db, &[]);
    let products = assert_gin_proposal(&report, "products", "specs jsonb_path_ops");
    assert!(
        products["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("jsonb_path_ops is smaller"),
        "{products:#}"
    );
    let catalog = assert_gin_proposal(&report, "catalog", "attrs");
    assert!(
        catalog["ddl"]
            .as_str()
            .unwrap_or_default()
            .ends_with("USING gin (attrs)"),
        "{catalog:#}"
    );
    assert_eq!(catalog["queryids"].as_array().map(Vec::len), Some(2));

    let admin = db.client().await;
    let name = build_and_assert_bitmap_scan(
        &admin,
        products,
        "SELECT id FROM products WHERE specs @> '{\"sku\": 42}'",
    )
    .await;
    let catalog_name = build_and_assert_bitmap_scan(
        &admin,
        catalog,
        "SELECT id FROM catalog WHERE attrs ? 'k42'",
    )
    .await;
    assert_served_after_build(&db, "products", name, &[]);
    assert_served_after_build(&db, "catalog", catalog_name, &[]);
}

#[tokio::test]
async fn array_overlap_and_containment_get_gin() {
    let db = scenarios::load(
        "bb_array",
        "CREATE TABLE articles (id bigint PRIMARY KEY, labels text[] NOT NULL);
         INSERT INTO articles SELECT g, ARRAY['l' || g % 5000, 'm' || g % 777, 'all']
           FROM generate_series(1, 100000) g;",
    )
    .await;
    let app = db.client().await;
    run_workload(
        &app,
        "SELECT id FROM articles WHERE labels @> $1::text[]",
        |i| vec![Box::new(vec![format!("l{}", i * 31)])],
    )
    .await;
    run_workload(&app, "SELECT id FROM articles WHERE labels && $1", |i| {
        vec![Box::new(vec![format!("m{}", i), format!("m{}", i + 1)])]
    })
    .await;

    let report = scan_json(&db, &[]);
    let p = assert_gin_proposal(&report, "articles", "labels");
    assert_eq!(p["queryids"].as_array().map(Vec::len), Some(2), "{p:#}");
    assert!(
        p["verification"]
            .as_str()
            .unwrap_or_default()
            .contains("most_common_elems"),
        "pg_stats' element frequencies as evidence: {p:#}"
    );
    let admin = db.client().await;
    let name = build_and_assert_bitmap_scan(
        &admin,
        p,
        "SELECT id FROM articles WHERE labels && ARRAY['m5']",
    )
    .await;
    assert_served_after_build(&db, "articles", name, &[]);
}

#[tokio::test]
async fn full_text_search_on_an_expression_and_a_stored_tsvector() {
    let db = scenarios::load(
        "bb_fts",
        "CREATE TABLE posts (id bigint PRIMARY KEY, content text NOT NULL);
         INSERT INTO posts SELECT g, 'post number w' || g || ' about topic t' || g % 300 || ' lorem ipsum'
           FROM generate_series(1, 60000) g;
         CREATE TABLE documents (id bigint PRIMARY KEY, body_tsv tsvector NOT NULL);
         INSERT INTO documents SELECT g, to_tsvector('simple', 'doc w' || g || ' topic t' || g % 300)
           FROM generate_series(1, 60000) g;",
    )
    .await;
    let app = db.client().await;
    run_workload(
        &app,
        "SELECT id FROM documents WHERE body_tsv @@ to_tsquery('simple', $1)",
        |i| vec![Box::new(format!("w{}", 1 + i))],
    )
    .await;
    // pg_stat_statements keeps the configuration only as `$n`: the scan
    // says so, and the expression's statement is given as written.
    let fts =
        "SELECT id FROM posts WHERE to_tsvector('simple', content) @@ to_tsquery('simple', $1)";
    run_workload(&app, fts, |i| vec![Box::new(format!("w{}", 1 + i))]).await;
    let hidden = |report: &Value| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "text-search-config-hidden" && f["object"] == "public.posts")
            .count()
    };
    let report = scan_json(&db, &[]);
    assert_eq!(hidden(&report), 1, "{:#}", report["findings"]);
    assert!(proposals_on(&report, "posts").is_empty(), "{report:#}");
    let report = scan_json(&db, &["--query", fts]);
    let posts = assert_gin_proposal(&report, "posts", "to_tsvector('simple', content)");
    assert!(
        posts["ddl"]
            .as_str()
            .unwrap_or_default()
            .ends_with("USING gin ((to_tsvector('simple', content)))"),
        "{posts:#}"
    );
    let documents = assert_gin_proposal(&report, "documents", "body_tsv");
    if db.has_hypopg {
        // A statement given with --query is planned in the what-if session's
        // baseline like an observed one: its estimate is there too.
        assert_selectivity_evidence(posts, 1, 60_000.0);
        assert_selectivity_evidence(documents, 1, 60_000.0);
    }

    let admin = db.client().await;
    let name = build_and_assert_bitmap_scan(
        &admin,
        posts,
        "SELECT id FROM posts WHERE to_tsvector('simple', content) @@ to_tsquery('simple', 'w42')",
    )
    .await;
    let documents_name = build_and_assert_bitmap_scan(
        &admin,
        documents,
        "SELECT id FROM documents WHERE body_tsv @@ to_tsquery('simple', 'w42')",
    )
    .await;
    assert_served_after_build(&db, "posts", name, &["--query", fts]);
    assert_served_after_build(&db, "documents", documents_name, &[]);
    assert_eq!(hidden(&scan_json(&db, &[])), 0, "the index exists now");
}

/// 100k customers with hexadecimal names, searched by substring.
const CUSTOMERS: &str = "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
     INSERT INTO customers SELECT g, 'customer ' || md5(g::text) FROM generate_series(1, 100000) g;";

async fn trigram_workload(db: &TestDb) {
    let app = db.client().await;
    run_workload(&app, "SELECT id FROM customers WHERE name ILIKE $1", |i| {
        vec![Box::new(format!("%{:x}f0a%", i))]
    })
    .await;
    run_workload(&app, "SELECT id FROM customers WHERE name ~ $1", |i| {
        vec![Box::new(format!("{:x}c0ffe", i))]
    })
    .await;
}

#[tokio::test]
async fn substring_search_gets_a_trigram_gin_index() {
    let db = scenarios::load(
        "bb_trgm",
        &format!("CREATE EXTENSION IF NOT EXISTS pg_trgm; {CUSTOMERS}"),
    )
    .await;
    trigram_workload(&db).await;

    let out = tempfile::tempdir().unwrap();
    let report = scan_json(&db, &["--out", out.path().to_str().unwrap()]);
    let p = assert_gin_proposal(&report, "customers", "name gin_trgm_ops");
    assert!(p.get("requires").is_none(), "pg_trgm is there: {p:#}");
    assert_eq!(p["queryids"].as_array().map(Vec::len), Some(2), "{p:#}");
    // Unverified by hypopg, yet it gets its migration: the verification
    // plan checks it once built.
    let sql = migration_files(out.path());
    assert_eq!(sql.len(), 1, "{sql:?}");
    let migration = std::fs::read_to_string(&sql[0]).unwrap();
    assert!(
        migration.contains("USING gin (name gin_trgm_ops)")
            && migration.contains("Not verified before deployment: hypopg cannot simulate GIN"),
        "{migration}"
    );
    assert_squawk_clean(&sql);

    let admin = db.client().await;
    let name = build_and_assert_bitmap_scan(
        &admin,
        p,
        "SELECT id FROM customers WHERE name ILIKE '%c4ca4%'",
    )
    .await;
    // `pgadvise verify` checks the planner reads through it.
    let verify = support::tools::verify(out.path(), &db.url, &[]);
    let verify_text = support::tools::described(&verify);
    assert_eq!(verify.status.code(), Some(0), "{verify_text}");
    assert!(verify_text.contains(name), "{verify_text}");
    assert_served_after_build(&db, "customers", name, &[]);
}

#[tokio::test]
async fn a_trigram_proposal_without_pg_trgm_names_the_extension() {
    let db = scenarios::load("bb_notrgm", CUSTOMERS).await;
    trigram_workload(&db).await;
    let out = tempfile::tempdir().unwrap();
    let report = scan_json(&db, &["--out", out.path().to_str().unwrap()]);
    let p = assert_gin_proposal(&report, "customers", "name gin_trgm_ops");
    assert_eq!(p["requires"], serde_json::json!(["pg_trgm"]), "{p:#}");
    let text = pgadvise()
        .args(["scan", "--quiet"])
        .arg(&db.url)
        .output()
        .expect("running pgadvise");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("requires the pg_trgm extension")
            && text.contains("unverified: hypopg cannot simulate GIN"),
        "{text}"
    );
    let sql = migration_files(out.path());
    let migration = std::fs::read_to_string(&sql[0]).unwrap();
    assert!(
        migration.contains("Requires the pg_trgm extension")
            && migration.contains("CREATE EXTENSION pg_trgm;"),
        "{migration}"
    );
    // pgadvise created nothing.
    let client = db.client().await;
    let created: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 0);
}

/// The SQL migration files of a `scan --out` folder (not the verification scripts).
fn migration_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".sql") && !name.ends_with(".verify.sql") && !name.ends_with(".down.sql")
        })
        .collect();
    files.sort();
    files
}

/// A database of its own with the given collation, the accounts table loaded.
async fn accounts_database(prefix: &str, collation: &str) -> TestDb {
    scenarios::load_collated(
        prefix,
        collation,
        "CREATE TABLE accounts (id bigint PRIMARY KEY, login text NOT NULL);
         INSERT INTO accounts SELECT g, CASE WHEN g % 1000 = 0 THEN 'admin' ELSE 'user' END || g
           FROM generate_series(1, 100000) g;",
    )
    .await
}

const PREFIX_LIKE: &str = "SELECT id FROM accounts WHERE login LIKE 'adm%'";

/// The one proposal on accounts for the prefix LIKE, verified with hypopg.
fn prefix_proposal(db: &TestDb) -> Value {
    let report = scan_json(db, &["--query", PREFIX_LIKE]);
    let found = proposals_on(&report, "accounts");
    assert_eq!(found.len(), 1, "{report:#}");
    let p = found[0].clone();
    assert_eq!(p["method"], "btree", "{p:#}");
    assert_eq!(
        p["verified"], db.has_hypopg,
        "hypopg simulates operator classes: {p:#}"
    );
    p
}

#[tokio::test]
async fn prefix_like_gets_text_pattern_ops_unless_the_collation_is_c() {
    // A collation that does not compare bytewise: a plain btree cannot serve
    // LIKE 'adm%', text_pattern_ops can.
    let db = accounts_database("bb_pattern", "C.UTF-8").await;
    let p = prefix_proposal(&db);
    assert_eq!(
        p["columns"],
        serde_json::json!(["login text_pattern_ops"]),
        "{p:#}"
    );
    let admin = db.client().await;
    let plan = build_and_explain(&admin, p["ddl"].as_str().unwrap(), PREFIX_LIKE).await;
    let name = p["name"].as_str().unwrap();
    assert!(plan.contains(name), "{plan}");

    // Under C a plain btree serves it.
    let c = accounts_database("bb_pattern_c", "C").await;
    let p = prefix_proposal(&c);
    assert_eq!(p["columns"], serde_json::json!(["login"]), "{p:#}");
    assert!(
        p["ddl"].as_str().unwrap().ends_with("USING btree (login)"),
        "{p:#}"
    );
    let admin = c.client().await;
    let plan = build_and_explain(&admin, p["ddl"].as_str().unwrap(), PREFIX_LIKE).await;
    assert!(plan.contains(p["name"].as_str().unwrap()), "{plan}");
}

/// A range on the insertion time of a large append-only log gets a BRIN,
/// verified with hypopg; the same rows stored in random order get a btree.
#[tokio::test]
async fn a_range_on_an_append_only_log_gets_a_brin() {
    // 800k rows of ~90 bytes, 9,100 pages: past the 64 MB (8,192 pages) BRIN threshold.
    let db = scenarios::load(
        "bb_brin",
        "CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL,
                              account_id int NOT NULL, payload text NOT NULL);
         INSERT INTO events SELECT g, timestamptz '2025-01-01' + g * interval '4 second',
                g % 5000, repeat('x', 40) FROM generate_series(1, 800000) g;
         CREATE TABLE events_shuffled (LIKE events);
         INSERT INTO events_shuffled SELECT * FROM events ORDER BY random();",
    )
    .await;
    let app = db.client().await;
    for table in ["events", "events_shuffled"] {
        run_workload(
            &app,
            &format!(
                "SELECT id, account_id FROM {table} \
                 WHERE created_at BETWEEN $1::text::timestamptz AND $2::text::timestamptz"
            ),
            |i| {
                vec![
                    Box::new(format!("2025-01-{:02} 00:00", 2 + i)),
                    Box::new(format!("2025-01-{:02} 06:00", 2 + i)),
                ]
            },
        )
        .await;
    }

    let report = scan_json(&db, &[]);
    let found = proposals_on(&report, "events");
    assert_eq!(found.len(), 1, "one proposal on events: {report:#}");
    let brin = found[0];
    assert_eq!(brin["method"], "brin", "{brin:#}");
    assert_eq!(brin["pages_per_range"], 32, "{brin:#}");
    // hypopg simulates BRIN: verified where the server has it (the other
    // majors of scripts/test-matrix have none and take the unverified path).
    assert_eq!(brin["verified"], db.has_hypopg, "{brin:#}");
    assert!(
        brin["ddl"]
            .as_str()
            .unwrap_or_default()
            .ends_with("USING brin (created_at) WITH (pages_per_range = 32)"),
        "{brin:#}"
    );
    assert!(
        brin["estimated_size_bytes"].as_i64().unwrap_or(i64::MAX) < 256 * 1024,
        "a BRIN is kilobytes: {brin:#}"
    );
    if db.has_hypopg {
        assert!(
            brin["cost_after"].as_f64() < brin["cost_before"].as_f64(),
            "{brin:#}"
        );
    }
    let reason = brin["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("correlation 1.00") && reason.contains("where a btree would take"),
        "{reason}"
    );
    let shuffled = proposals_on(&report, "events_shuffled");
    assert_eq!(shuffled.len(), 1, "{report:#}");
    assert_eq!(shuffled[0]["method"], "btree", "{:#}", shuffled[0]);

    let admin = db.client().await;
    let name = build_and_assert_bitmap_scan(
        &admin,
        brin,
        "SELECT id, account_id FROM events \
         WHERE created_at BETWEEN '2025-01-05' AND '2025-01-05 06:00'",
    )
    .await;
    assert_served_after_build(&db, "events", name, &[]);
}

/// `ORDER BY name <-> $1 LIMIT n` (the nearest names by trigram distance):
/// only a GiST index returns rows in that order, so the key gets one
/// `gist_trgm_ops` index, which serves the substring filter of another
/// statement too (no second, GIN index on the same key).
#[tokio::test]
async fn nearest_by_trigram_distance_gets_a_gist_index() {
    let db = scenarios::load(
        "bb_gist",
        &format!("CREATE EXTENSION IF NOT EXISTS pg_trgm; {CUSTOMERS}"),
    )
    .await;
    let app = db.client().await;
    run_workload(
        &app,
        "SELECT id, name FROM customers WHERE name % $1 ORDER BY name <-> $1 LIMIT 10",
        |i| vec![Box::new(format!("customer {:x}c4ca", i))],
    )
    .await;
    run_workload(&app, "SELECT id FROM customers WHERE name ILIKE $1", |i| {
        vec![Box::new(format!("%{:x}f0a%", i))]
    })
    .await;

    let out = tempfile::tempdir().unwrap();
    let report = scan_json(&db, &["--out", out.path().to_str().unwrap()]);
    let found = proposals_on(&report, "customers");
    assert_eq!(found.len(), 1, "one index on customers: {report:#}");
    let p = found[0];
    assert_eq!(p["method"], "gist", "{p:#}");
    assert_eq!(
        p["columns"],
        serde_json::json!(["name gist_trgm_ops"]),
        "{p:#}"
    );
    assert_eq!(p["verified"], false, "{p:#}");
    assert_eq!(p["queryids"].as_array().map(Vec::len), Some(2), "{p:#}");
    let reason = p["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("ORDER BY <->") && reason.contains("nearest first"),
        "{reason}"
    );
    assert!(
        p["verification"]
            .as_str()
            .unwrap_or_default()
            .contains("hypopg cannot simulate GiST"),
        "{p:#}"
    );
    assert!(
        p["verification"]
            .as_str()
            .unwrap_or_default()
            .contains("GiST has no pending list"),
        "{p:#}"
    );
    let sql = migration_files(out.path());
    assert_eq!(sql.len(), 1, "{sql:?}");
    assert_squawk_clean(&sql);

    let admin = db.client().await;
    let plan = build_and_explain(
        &admin,
        p["ddl"].as_str().unwrap(),
        "SELECT id, name FROM customers ORDER BY name <-> 'customer c4ca' LIMIT 10",
    )
    .await;
    let name = p["name"].as_str().unwrap();
    assert!(
        plan.contains(&format!("Index Scan using {name}")) && plan.contains("Order By"),
        "{plan}"
    );
    let verify = support::tools::verify(out.path(), &db.url, &[]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        support::tools::described(&verify)
    );
    assert_served_after_build(&db, "customers", name, &[]);

    // The substring filter alone, with the GiST index in place: it serves
    // that too, so no GIN is proposed beside it.
    db.reset_statements(&admin).await;
    run_workload(&app, "SELECT id FROM customers WHERE name ILIKE $1", |i| {
        vec![Box::new(format!("%{:x}f0a%", i))]
    })
    .await;
    assert_served_after_build(&db, "customers", name, &[]);
}

/// The GIN proposal's `estimated_selectivity`: one entry per statement, from
/// the baseline plans the what-if session made (so only with hypopg), each a
/// share of the table's rows the generic plan expects its filter to keep.
fn assert_selectivity_evidence(p: &Value, statements: usize, table_rows: f64) {
    let estimates = p["estimated_selectivity"]
        .as_array()
        .unwrap_or_else(|| panic!("estimated_selectivity: {p:#}"));
    assert_eq!(estimates.len(), statements, "{p:#}");
    let queryids = p["queryids"].as_array().expect("queryids");
    for e in estimates {
        assert!(queryids.contains(&e["queryid"]), "{e:#} in {p:#}");
        let rows = e["estimated_rows"].as_f64().expect("estimated_rows");
        let of = e["table_rows"].as_f64().expect("table_rows");
        let fraction = e["fraction"].as_f64().expect("fraction");
        assert!(
            (of - table_rows).abs() <= table_rows * 0.05,
            "reltuples {of} near {table_rows}: {p:#}"
        );
        // Parameters unknown: the planner's default selectivities, a small share.
        assert!(fraction > 0.0 && fraction < 0.05, "{e:#}");
        assert!((rows / of - fraction).abs() < 1e-9, "{e:#}");
    }
    let why = p["verification"].as_str().unwrap_or_default();
    assert!(
        why.contains("the planner estimates (generic plan")
            && why.find("the planner estimates") < why.find("pgadvise verify"),
        "the estimate in the evidence, before the closing note: {why}"
    );
}

#[tokio::test]
async fn gin_evidence_carries_the_planner_s_estimated_selectivity_from_the_baseline_plans() {
    let db = scenarios::load(
        "bb_selectivity",
        "CREATE TABLE articles (id bigint PRIMARY KEY, labels text[] NOT NULL);
         INSERT INTO articles SELECT g, ARRAY['l' || g % 5000, 'm' || g % 777, 'all']
           FROM generate_series(1, 100000) g;
         CREATE TABLE events (id bigint NOT NULL, tags text[] NOT NULL) PARTITION BY RANGE (id);
         CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (30001);
         CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (30001) TO (MAXVALUE);
         INSERT INTO events SELECT g, ARRAY['t' || g % 3000, 'u' || g % 91]
           FROM generate_series(1, 60000) g;",
    )
    .await;
    let app = db.client().await;
    // An alias, and a statement that reads the table twice (the scan on the
    // key is the one that counts).
    run_workload(
        &app,
        "SELECT a.id FROM articles a WHERE a.labels && $1",
        |i| vec![Box::new(vec![format!("m{i}")])],
    )
    .await;
    run_workload(
        &app,
        "SELECT a.id FROM articles a JOIN articles b ON b.id = a.id + 1 \
         WHERE a.labels @> $1::text[] AND b.id > $2",
        |i| vec![Box::new(vec![format!("l{}", i * 31)]), Box::new(i as i64)],
    )
    .await;
    run_workload(&app, "SELECT id FROM events WHERE tags @> $1", |i| {
        vec![Box::new(vec![format!("t{i}")])]
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("report.html");
    let pr = dir.path().join("pr.md");
    let report = scan_json(
        &db,
        &[
            "--report",
            html.to_str().unwrap(),
            "--pr-body",
            pr.to_str().unwrap(),
        ],
    );
    let articles = assert_gin_proposal(&report, "articles", "labels");
    let events = assert_gin_proposal(&report, "events", "tags");
    // A partitioned parent holds nothing itself: the evidence counts its
    // partitions' rows and writes.
    assert!(
        events["verification"]
            .as_str()
            .unwrap_or_default()
            .contains("public.events holds 60000 rows"),
        "{events:#}"
    );
    assert_eq!(events["write_cost"]["inserts"], 60_000, "{events:#}");
    // The evidence, estimate and all, where a DBA reads it.
    let page = std::fs::read_to_string(&html).expect("report.html");
    let body = std::fs::read_to_string(&pr).expect("PR body");
    let estimated = db.has_hypopg;
    assert!(
        page.contains("<tr><th>Not verified</th><td>hypopg cannot simulate GIN indexes"),
        "the HTML report shows the evidence"
    );
    assert_eq!(
        page.contains("the planner estimates (generic plan"),
        estimated,
        "{page}"
    );
    assert!(
        body.contains("**Not verified with hypopg:** hypopg cannot simulate GIN indexes"),
        "{body}"
    );
    assert_eq!(
        body.contains("hypopg cannot simulate GIN or GiST, so those come with the evidence"),
        db.has_hypopg,
        "{body}"
    );
    assert_eq!(
        body.contains("the planner estimates (generic plan"),
        estimated,
        "{body}"
    );
    if !db.has_hypopg {
        // No what-if session, no plan: the evidence stays without the estimate.
        assert!(articles["estimated_selectivity"].is_null(), "{articles:#}");
        return;
    }
    assert_selectivity_evidence(articles, 2, 100_000.0);
    // Both partitions' scans, against both partitions' rows.
    assert_selectivity_evidence(events, 1, 60_000.0);

    // An offline snapshot plans nothing: no estimate, the rest of the evidence stays.
    let file = dir.path().join("snapshot.json");
    let out = pgadvise()
        .args(["snapshot", "--quiet", "-o"])
        .arg(&file)
        .arg(&db.url)
        .output()
        .expect("running pgadvise snapshot");
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stderr));
    let out = pgadvise()
        .args(["scan", "--quiet", "--format", "json", "--snapshot"])
        .arg(&file)
        .output()
        .expect("running pgadvise scan --snapshot");
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stderr));
    let offline: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let p = assert_gin_proposal(&offline, "articles", "labels");
    assert!(p["estimated_selectivity"].is_null(), "{p:#}");
    assert!(
        !p["verification"]
            .as_str()
            .unwrap_or_default()
            .contains("the planner estimates"),
        "{p:#}"
    );
}

/// `left_out[]` of a report's verification: the entry for the index named `name`.
fn left_out_entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["verification"]["left_out"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("{name} in verification.left_out: {report:#}"))
}

#[tokio::test]
async fn a_gin_proposal_the_budget_has_no_room_for_is_listed_as_left_out() {
    let db = scenarios::load(
        "bb_budget",
        "CREATE TABLE articles (id bigint PRIMARY KEY, labels text[] NOT NULL);
         INSERT INTO articles SELECT g, ARRAY['l' || g % 5000, 'm' || g % 777, 'all']
           FROM generate_series(1, 100000) g;
         CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL);
         INSERT INTO orders SELECT g, g % 2000 FROM generate_series(1, 100000) g;",
    )
    .await;
    let app = db.client().await;
    run_workload(&app, "SELECT id FROM articles WHERE labels && $1", |i| {
        vec![Box::new(vec![format!("m{i}")])]
    })
    .await;
    run_workload(&app, "SELECT id FROM orders WHERE customer_id = $1", |i| {
        vec![Box::new(i as i32)]
    })
    .await;
    let free = scan_json(&db, &[]);
    let gin = assert_gin_proposal(&free, "articles", "labels").clone();
    let gin_name = gin["name"].as_str().unwrap().to_string();
    // No what-if session (--no-verify): the budget bounds every proposal by
    // pgadvise's estimates, most workload time first, and lists the rest.
    let unverified = scan_json(&db, &["--no-verify", "--budget", "1"]);
    assert!(
        unverified["indexes"].as_array().unwrap().is_empty(),
        "{unverified:#}"
    );
    let left = left_out_entry(&unverified, &gin_name);
    assert!(
        left["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no what-if session"),
        "{left:#}"
    );
    assert!(
        unverified["verification"]["plans_made"] == 0,
        "{unverified:#}"
    );
    assert_eq!(
        unverified["verification"]["left_out"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{unverified:#}"
    );
    if !db.has_hypopg {
        return;
    }
    let btree = proposals_on(&free, "orders")[0].clone();
    assert_eq!(btree["verified"], true, "{btree:#}");
    let gin_bytes = gin["estimated_size_bytes"].as_i64().unwrap();
    let btree_bytes = btree["estimated_size_bytes"].as_i64().unwrap();
    assert!(gin_bytes > 1, "{gin:#}");
    // Room for the btree, not for both.
    let budget = (btree_bytes + gin_bytes / 2).to_string();

    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("report.html");
    let pr = dir.path().join("pr.md");
    let report = scan_json(
        &db,
        &[
            "--budget",
            &budget,
            "--report",
            html.to_str().unwrap(),
            "--pr-body",
            pr.to_str().unwrap(),
        ],
    );
    assert!(proposals_on(&report, "articles").is_empty(), "{report:#}");
    assert_eq!(proposals_on(&report, "orders").len(), 1, "{report:#}");
    let left = left_out_entry(&report, &gin_name);
    assert_eq!(left["ddl"], gin["ddl"], "{left:#}");
    assert_eq!(left["size_bytes"], gin_bytes, "{left:#}");
    assert!(
        left["cost_saving"].is_null(),
        "no saving measured: {left:#}"
    );
    let reason = left["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the budget (") && reason.contains("hypopg cannot simulate GIN indexes"),
        "{left:#}"
    );

    let ddl = gin["ddl"].as_str().unwrap();
    let page = std::fs::read_to_string(&html).expect("report.html");
    let section = page
        .split("<h3>Left out by a limit</h3>")
        .nth(1)
        .unwrap_or_else(|| panic!("no left-out section in the HTML report"));
    assert!(section.contains(ddl), "{section}");
    let body = std::fs::read_to_string(&pr).expect("PR body");
    let section = body
        .split("### Left out by a limit")
        .nth(1)
        .unwrap_or_else(|| panic!("no left-out section in the PR body:\n{body}"));
    assert!(
        section.contains(&format!("`{ddl}`")) && section.contains("saving not measured"),
        "{body}"
    );
    let out = pgadvise()
        .args(["scan", "--quiet", "--budget", &budget])
        .arg(&db.url)
        .output()
        .expect("running pgadvise");
    let text = support::text(&out.stdout);
    assert!(
        text.lines().any(
            |l| l.contains(&format!("left out: {ddl} (~")) && l.contains("saving not measured")
        ),
        "{text}"
    );

    // Only the GIN proposal (orders excluded): the what-if session planned
    // the workload but had nothing to simulate; the budget's cut is listed.
    let gin_only = scan_json(
        &db,
        &[
            "--budget",
            "1",
            "--exclude-table",
            "orders",
            "--report",
            html.to_str().unwrap(),
        ],
    );
    let page = std::fs::read_to_string(&html).expect("report.html");
    assert!(
        page.contains("available; no proposal is of a kind it can simulate"),
        "the Verification row says why nothing was verified"
    );
    assert!(page.contains("<h3>Left out by a limit</h3>"), "{page}");
    assert!(
        gin_only["indexes"].as_array().unwrap().is_empty(),
        "{gin_only:#}"
    );
    left_out_entry(&gin_only, &gin_name);
    assert!(
        gin_only["verification"]["plans_made"].as_u64() > Some(0),
        "{gin_only:#}"
    );
}

/// A log partitioned by month, each partition in insertion order: the
/// partitions together are past the BRIN threshold (neither alone is), so
/// the parent gets a BRIN, verified on every partition, and its migration
/// builds it on each partition and attaches them.
#[tokio::test]
async fn a_range_on_a_partitioned_log_gets_a_brin() {
    // 800k rows of ~90 bytes over two partitions of ~4,600 pages each.
    let db = scenarios::load(
        "bb_brin_part",
        "CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL,
                              account_id int NOT NULL, payload text NOT NULL)
           PARTITION BY RANGE (created_at);
         CREATE TABLE events_a PARTITION OF events
           FOR VALUES FROM ('2025-01-01') TO ('2025-01-19 12:00');
         CREATE TABLE events_b PARTITION OF events
           FOR VALUES FROM ('2025-01-19 12:00') TO (MAXVALUE);
         INSERT INTO events SELECT g, timestamptz '2025-01-01' + g * interval '4 second',
                g % 5000, repeat('x', 40) FROM generate_series(1, 800000) g;",
    )
    .await;
    let app = db.client().await;
    run_workload(
        &app,
        "SELECT id, account_id FROM events \
         WHERE created_at BETWEEN $1::text::timestamptz AND $2::text::timestamptz",
        |i| {
            vec![
                Box::new(format!("2025-01-{:02} 00:00", 2 + i)),
                Box::new(format!("2025-01-{:02} 06:00", 2 + i)),
            ]
        },
    )
    .await;

    let out = tempfile::tempdir().unwrap();
    let unverified: &[&str] = if db.has_hypopg { &[] } else { &["--no-verify"] };
    let mut args = vec!["--out", out.path().to_str().unwrap()];
    args.extend(unverified);
    let report = scan_json(&db, &args);
    let found = proposals_on(&report, "events");
    assert_eq!(found.len(), 1, "one proposal on events: {report:#}");
    let brin = found[0];
    assert_eq!(brin["method"], "brin", "{brin:#}");
    assert_eq!(brin["verified"], db.has_hypopg, "{brin:#}");
    assert!(
        brin["ddl"]
            .as_str()
            .unwrap_or_default()
            .ends_with("USING brin (created_at) WITH (pages_per_range = 32)"),
        "{brin:#}"
    );
    assert!(
        brin["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("correlation 1.00"),
        "{brin:#}"
    );

    let sql = migration_files(out.path());
    assert_eq!(sql.len(), 1, "{sql:?}");
    assert_squawk_clean(&sql);
    let applied = support::tools::psql_file(&db.url, &sql[0]);
    assert!(
        applied.status.success(),
        "{}",
        support::tools::described(&applied)
    );
    let built = support::tools::index_definitions(&db.url, "events_a");
    assert!(
        built.iter().any(|i| i
            .definition
            .contains("USING brin (created_at) WITH (pages_per_range='32')")),
        "{built:?}"
    );
    let verified = support::tools::verify(out.path(), &db.url, &[]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        support::tools::described(&verified)
    );
    let name = brin["name"].as_str().unwrap();
    assert_served_after_build(&db, "events", name, unverified);
}
