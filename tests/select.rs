//! Workload-level index selection against a real server: the set is chosen
//! with hypothetical indexes, verified together, and reported with what each
//! index shares its statements with (`served_with`), what a limit left out,
//! and how the what-if session treated pg_stat_statements and hypopg.
//!
//! Each test loads its own database, runs its workload so pg_stat_statements
//! sees it, and runs `pgadvise scan` as a user does.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use support::scenarios::load;
use support::{pgadvise, TestDb};
use tokio_postgres::Client;

/// Runs `sql` (one `int` parameter per placeholder) `calls` times as a
/// prepared statement, the arguments of call `i` from `args(i)`.
async fn repeat(client: &Client, sql: &str, calls: i32, args: impl Fn(i32) -> Vec<i32>) {
    let statement = client
        .prepare(sql)
        .await
        .unwrap_or_else(|e| panic!("PREPARE {sql}: {e:?}"));
    for i in 0..calls {
        let values = args(i);
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        client
            .query(&statement, &params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `pgadvise scan` with `args` (the URL last), checked to succeed.
fn scan_output(url: &str, args: &[&str]) -> Output {
    let out = pgadvise()
        .arg("scan")
        .args(args)
        .arg(url)
        .output()
        .expect("running pgadvise");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    out
}

/// `pgadvise scan --format json` with `args`: the report and stderr.
fn scan(url: &str, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = scan_output(url, &all);
    let report = serde_json::from_slice(&out.stdout).expect("JSON report");
    (report, text(&out.stderr))
}

fn proposals(report: &Value) -> &Vec<Value> {
    report["indexes"].as_array().expect("indexes array")
}

fn columns(proposal: &Value) -> Vec<String> {
    proposal["columns"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The proposals on `public.<table>`.
fn on_table<'r>(report: &'r Value, table: &str) -> Vec<&'r Value> {
    let qualified = format!("public.{table}");
    proposals(report)
        .iter()
        .filter(|p| p["table"] == qualified.as_str())
        .collect()
}

/// The one proposal on `public.<table>` with exactly these keys.
fn index<'r>(report: &'r Value, table: &str, keys: &[&str]) -> &'r Value {
    let found: Vec<&Value> = on_table(report, table)
        .into_iter()
        .filter(|p| columns(p) == keys)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one index on {table} {keys:?}: {report:#}"
    );
    found[0]
}

/// Whether the proposal lists a statement containing `fragment`.
fn serves(proposal: &Value, fragment: &str) -> bool {
    proposal["queries"].as_array().is_some_and(|qs| {
        qs.iter()
            .any(|q| q.as_str().is_some_and(|q| q.contains(fragment)))
    })
}

fn served_with(proposal: &Value) -> Vec<String> {
    proposal["served_with"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Verified, and it pays given the rest of the set.
fn assert_verified(p: &Value) {
    assert_eq!(p["verified"], true, "{p:#}");
    let marginal = p["marginal_cost_saving"].as_f64();
    assert!(marginal.is_some_and(|m| m > 0.0), "{p:#}");
}

fn require_hypopg(db: &TestDb) {
    assert!(
        db.has_hypopg,
        "the selection tests need hypopg on the test server (scripts/setup --minimal installs postgresql-15-hypopg)"
    );
}

// ------------------------------------------------------------- joins

const JOIN: &str =
    "SELECT c.id FROM comments c JOIN posts p ON p.id = c.post_id WHERE p.author_id = $1";

/// 2,000 authors with 20 posts each (wide rows), 5 comments per post.
const JOIN_SCHEMA: &str = r#"
    CREATE TABLE posts (
        id int PRIMARY KEY,
        author_id int NOT NULL,
        title text NOT NULL,
        body text NOT NULL
    );
    INSERT INTO posts
    SELECT g, 1 + (g * 7919) % 2000, 'post ' || g, repeat('lorem ipsum ', 20)
    FROM generate_series(1, 40000) g;
    CREATE TABLE comments (
        id int PRIMARY KEY,
        post_id int NOT NULL,
        body text NOT NULL
    );
    INSERT INTO comments
    SELECT g, 1 + (g::bigint * 104729) % 40000, 'comment ' || g
    FROM generate_series(1, 200000) g;
"#;

#[tokio::test]
async fn a_join_gets_an_index_on_both_sides_each_naming_the_other() {
    let db = load("select_join", JOIN_SCHEMA).await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(&app, JOIN, 40, |i| vec![1 + (i * 37) % 2000]).await;

    let (report, _) = scan(&db.url, &[]);
    let posts = index(&report, "posts", &["author_id"]);
    let comments = index(&report, "comments", &["post_id"]);
    for (p, other) in [(posts, comments), (comments, posts)] {
        assert_verified(p);
        assert!(serves(p, JOIN), "{p:#}");
        let other_name = other["name"].as_str().unwrap().to_string();
        assert!(
            served_with(p).contains(&other_name),
            "{} should be served with {other_name}: {p:#}",
            p["name"]
        );
    }
    // The statement's plan with the set reads both sides through them.
    let plan = report["verification"]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["plan_after"]
                .as_str()
                .is_some_and(|t| t.contains("Nested Loop"))
        })
        .unwrap_or_else(|| panic!("no nested loop with the set: {report:#}"));
    let after = plan["plan_after"].as_str().unwrap();
    for p in [posts, comments] {
        let name = p["name"].as_str().unwrap();
        assert!(
            after.contains(name),
            "the plan with the set should name {name} (docs/json-output.md: hypothetical \
             indexes under their proposed names):\n{after}"
        );
    }
}

// --------------------------------------------------------------- OR

const OR: &str = "SELECT * FROM tickets WHERE assignee_id = $1 OR reporter_id = $2";

#[tokio::test]
async fn an_or_gets_an_index_for_each_branch() {
    let db = load(
        "select_or",
        r#"
        CREATE TABLE tickets (
            id int PRIMARY KEY,
            assignee_id int NOT NULL,
            reporter_id int NOT NULL,
            title text NOT NULL
        );
        INSERT INTO tickets
        SELECT g, 1 + (g * 7919) % 20000, 1 + (g::bigint * 104729) % 20000, 'ticket ' || g || repeat(' x', 20)
        FROM generate_series(1, 100000) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(&app, OR, 30, |i| vec![1 + i * 13, 1 + i * 29]).await;

    let (report, _) = scan(&db.url, &[]);
    let assignee = index(&report, "tickets", &["assignee_id"]);
    let reporter = index(&report, "tickets", &["reporter_id"]);
    for (p, other) in [(assignee, reporter), (reporter, assignee)] {
        assert_verified(p);
        assert!(serves(p, OR), "{p:#}");
        let other_name = other["name"].as_str().unwrap().to_string();
        assert!(served_with(p).contains(&other_name), "{p:#}");
    }
    assert_eq!(on_table(&report, "tickets").len(), 2, "{report:#}");
}

// ---------------------------------------------------------- LATERAL

const LATERAL: &str = "SELECT p.id, x.* FROM parents p CROSS JOIN LATERAL (SELECT c.id FROM children c WHERE c.parent_id = p.id ORDER BY c.created_at DESC LIMIT 3) x WHERE p.group_id = $1";

#[tokio::test]
async fn lateral_top_n_per_parent_gets_an_index_leading_with_the_parent() {
    let db = load(
        "select_lateral",
        r#"
        CREATE TABLE parents (
            id int PRIMARY KEY,
            group_id int NOT NULL,
            name text NOT NULL
        );
        INSERT INTO parents SELECT g, 1 + g % 500, 'parent ' || g FROM generate_series(1, 5000) g;
        CREATE TABLE children (
            id int PRIMARY KEY,
            parent_id int NOT NULL,
            created_at timestamptz NOT NULL,
            payload text NOT NULL
        );
        INSERT INTO children
        SELECT g, 1 + (g * 7919) % 5000, timestamptz '2024-01-01' + g * interval '1 minute', 'child ' || g
        FROM generate_series(1, 60000) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(&app, LATERAL, 10, |i| vec![1 + (i * 7) % 500]).await;

    let (report, _) = scan(&db.url, &[]);
    let children = on_table(&report, "children");
    let leading: Vec<&&Value> = children
        .iter()
        .filter(|p| columns(p).first().map(String::as_str) == Some("parent_id"))
        .collect();
    assert_eq!(
        leading.len(),
        1,
        "expected one index on children leading with parent_id: {report:#}"
    );
    let p = leading[0];
    assert_verified(p);
    assert!(serves(p, "CROSS JOIN LATERAL"), "{p:#}");
    // The per-parent top-N reads the newest rows first and stops after LIMIT.
    assert_eq!(
        columns(p),
        ["parent_id", "created_at DESC"],
        "the index should also give the LATERAL subquery's order: {p:#}"
    );
}

// ----------------------------------------------------------- budget

/// Two tables of the same shape: their indexes are the same size.
const BUDGET_SCHEMA: &str = r#"
    CREATE TABLE hot_orders (id int PRIMARY KEY, customer_id int NOT NULL, note text NOT NULL);
    CREATE TABLE cold_orders (id int PRIMARY KEY, customer_id int NOT NULL, note text NOT NULL);
    INSERT INTO hot_orders
    SELECT g, 1 + (g * 7919) % 20000, 'order ' || g || repeat(' y', 20) FROM generate_series(1, 100000) g;
    INSERT INTO cold_orders SELECT * FROM hot_orders;
"#;

#[tokio::test]
async fn a_budget_keeps_the_more_valuable_index_and_says_what_it_left_out() {
    let db = load("select_budget", BUDGET_SCHEMA).await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(
        &app,
        "SELECT * FROM hot_orders WHERE customer_id = $1",
        40,
        |i| vec![1 + i * 17],
    )
    .await;
    repeat(
        &app,
        "SELECT * FROM cold_orders WHERE customer_id = $1",
        10,
        |i| vec![1 + i * 17],
    )
    .await;

    let (free, _) = scan(&db.url, &[]);
    let hot = index(&free, "hot_orders", &["customer_id"]);
    let cold = index(&free, "cold_orders", &["customer_id"]);
    assert_verified(hot);
    assert_verified(cold);
    let hot_size = hot["estimated_size_bytes"].as_i64().unwrap();
    let cold_size = cold["estimated_size_bytes"].as_i64().unwrap();
    assert!(hot_size > 0 && cold_size > 0, "{free:#}");
    assert!(free["verification"]["left_out"].is_null(), "{free:#}");

    // Room for the larger one and half the other.
    let budget = (hot_size.max(cold_size) + hot_size.min(cold_size) / 2).to_string();
    let (report, _) = scan(&db.url, &["--budget", &budget]);
    let kept = proposals(&report);
    assert_eq!(kept.len(), 1, "{report:#}");
    assert_eq!(kept[0]["table"], "public.hot_orders", "{report:#}");
    assert_verified(&kept[0]);
    let left_out = report["verification"]["left_out"]
        .as_array()
        .unwrap_or_else(|| panic!("no verification.left_out: {report:#}"));
    assert_eq!(left_out.len(), 1, "{report:#}");
    let l = &left_out[0];
    assert!(l["ddl"].as_str().unwrap().contains("cold_orders"), "{l:#}");
    assert!(l["reason"].as_str().unwrap().contains("budget"), "{l:#}");
    assert!(l["size_bytes"].as_i64().unwrap() > 0, "{l:#}");
    assert!(l["cost_saving"].as_f64().unwrap() > 0.0, "{l:#}");
    assert!(
        report["verification"]["total_size_bytes"].as_i64().unwrap()
            <= budget.parse::<i64>().unwrap(),
        "{report:#}"
    );
    // The set's totals still count the statement it leaves unserved.
    let before = |r: &Value| r["verification"]["workload_cost_before"].as_f64().unwrap();
    assert!(
        (before(&report) - before(&free)).abs() <= 1e-6 * before(&free),
        "workload cost before: {} with the budget, {} without",
        before(&report),
        before(&free)
    );

    // The text report says it too.
    let out = scan_output(&db.url, &["--budget", &budget]);
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("left out:"))
        .unwrap_or_else(|| panic!("no 'left out:' line: {stdout}"));
    assert!(
        line.contains("cold_orders") && line.contains("budget"),
        "{line}"
    );
}

// ------------------------------------------------ wider index wins

const BY_A: &str = "SELECT * FROM readings WHERE a = $1";
const BY_A_B: &str = "SELECT * FROM readings WHERE a = $1 AND b = $2 ORDER BY c";

#[tokio::test]
async fn a_wider_index_chosen_later_replaces_its_prefix() {
    // 1,000 values of a, 100 rows each scattered over the table; 20 of b, so
    // a is the more selective and leads, and a and b together pick 5 rows.
    // An index on a alone serves both statements well (the better buy per
    // byte, chosen first); on (a, b, c) the second reads 5 rows instead of
    // 100 and skips the sort, and the first no worse than with (a).
    let db = load(
        "select_wider",
        r#"
        CREATE TABLE readings (
            id int PRIMARY KEY,
            a int NOT NULL,
            b int NOT NULL,
            c int NOT NULL,
            note text NOT NULL
        );
        INSERT INTO readings
        SELECT g, (g * 7919) % 1000, (g / 1000) % 20, (g::bigint * 104729) % 100000, 'reading ' || g
        FROM generate_series(0, 99999) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(&app, BY_A, 60, |i| vec![(i * 37) % 1000]).await;
    repeat(&app, BY_A_B, 200, |i| vec![(i * 37) % 1000, i % 20]).await;

    let (report, _) = scan(&db.url, &[]);
    let leading_a: Vec<&Value> = on_table(&report, "readings")
        .into_iter()
        .filter(|p| columns(p).first().map(String::as_str) == Some("a"))
        .collect();
    assert_eq!(
        leading_a.len(),
        1,
        "one index leading with a should serve both statements: {report:#}"
    );
    let p = leading_a[0];
    assert_verified(p);
    assert!(serves(p, BY_A_B), "{report:#}");
    assert!(
        p["queries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q.as_str() == Some(BY_A)),
        "{report:#}"
    );
    assert!(
        columns(p).starts_with(&["a".to_string(), "b".to_string()]),
        "{report:#}"
    );
}

// ------------------------------------------------------ covering indexes

const NARROW: &str = "SELECT id, status FROM orders WHERE customer_id = $1";
const WIDE_TEXT: &str = "SELECT note FROM orders WHERE region = $1";

#[tokio::test]
async fn a_narrow_statement_on_an_all_visible_table_gets_a_covering_index() {
    // 400,000 orders over 20,000 customers (20 rows each, scattered), every
    // page all-visible once vacuumed, so an index-only scan needs no heap. The first statement reads two fixed-width columns besides its
    // filter: INCLUDE them. The second reads a text column: never INCLUDEd
    // (a long value could exceed a btree row), so its index has keys only.
    let db = load(
        "select_covering",
        r#"
        CREATE TABLE orders (
            id bigint PRIMARY KEY,
            customer_id int NOT NULL,
            region int NOT NULL,
            status int NOT NULL,
            note text NOT NULL
        );
        INSERT INTO orders
        SELECT g, (g::bigint * 7919) % 20000, (g::bigint * 104729) % 5000, g % 5, 'order note ' || g
        FROM generate_series(1, 400000) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let app = db.client().await;
    // A VACUUM right after the load may not yet mark the pages all-visible
    // (the loading transaction must be older than every snapshot): repeat it.
    let mut visible = 0.0;
    for _ in 0..60 {
        app.batch_execute("VACUUM orders").await.expect("VACUUM");
        let row = app
            .query_one(
                "SELECT relallvisible::float8 / greatest(relpages, 1) FROM pg_class \
                 WHERE relname = 'orders'",
                &[],
            )
            .await
            .expect("relallvisible");
        visible = row.get(0);
        if visible > 0.99 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        visible > 0.99,
        "VACUUM left {visible} of orders all-visible"
    );
    repeat(&app, NARROW, 200, |i| vec![(i * 37) % 20000]).await;
    repeat(&app, WIDE_TEXT, 200, |i| vec![(i * 37) % 5000]).await;

    let (report, _) = scan(&db.url, &[]);
    let covering = index(&report, "orders", &["customer_id"]);
    assert_verified(covering);
    assert_eq!(
        covering["include"],
        serde_json::json!(["id", "status"]),
        "{report:#}"
    );
    assert!(serves(covering, NARROW), "{report:#}");
    let ddl = covering["ddl"].as_str().expect("ddl");
    assert!(ddl.ends_with("(customer_id) INCLUDE (id, status)"), "{ddl}");
    assert!(
        covering["reason"]
            .as_str()
            .is_some_and(|r| r.contains("index-only scan")),
        "{report:#}"
    );
    let by_region = index(&report, "orders", &["region"]);
    assert_eq!(by_region["include"], serde_json::json!([]), "{report:#}");

    // Created for real, the planner answers the statement from the index alone.
    let admin = db.client().await;
    admin.batch_execute(ddl).await.expect("CREATE INDEX");
    admin.batch_execute("VACUUM orders").await.expect("VACUUM");
    let name = covering["name"].as_str().expect("name");
    app.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE narrow(int) AS {NARROW}"
    ))
    .await
    .expect("PREPARE");
    let plan: Vec<String> = app
        .query("EXPLAIN EXECUTE narrow(7)", &[])
        .await
        .expect("EXPLAIN")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains(&format!("Index Only Scan using {name}"))),
        "{plan:#?}"
    );
}

// ---------------------------------------- pg_stat_statements hygiene

const ENTRIES: &str = "SELECT count(*) FROM pg_stat_statements \
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())";
const DEALLOC: &str = "SELECT dealloc FROM pg_stat_statements_info";

async fn entries(client: &Client) -> i64 {
    client.query_one(ENTRIES, &[]).await.unwrap().get(0)
}

async fn dealloc(client: &Client) -> i64 {
    client.query_one(DEALLOC, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_superuser_scan_leaves_pg_stat_statements_as_it_was() {
    let db = load(
        "select_pgss",
        r#"
        CREATE TABLE accounts (id int PRIMARY KEY, region int NOT NULL, owner int NOT NULL, note text NOT NULL);
        INSERT INTO accounts
        SELECT g, g % 50, 1 + (g * 7919) % 10000, 'account ' || g FROM generate_series(1, 50000) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(&app, "SELECT * FROM accounts WHERE owner = $1", 20, |i| {
        vec![1 + i]
    })
    .await;
    repeat(
        &app,
        "SELECT id FROM accounts WHERE owner = $1 AND region = $2",
        20,
        |i| vec![1 + i, i % 50],
    )
    .await;
    repeat(
        &app,
        "SELECT count(*) FROM accounts WHERE region = $1",
        20,
        |i| vec![i % 50],
    )
    .await;

    let admin = db.client().await;
    let entries_before = entries(&admin).await;
    let dealloc_before = dealloc(&admin).await;
    let (first, _) = scan(&db.url, &[]);
    assert!(
        proposals(&first).iter().all(|p| p["verified"] == true) && !proposals(&first).is_empty(),
        "{first:#}"
    );
    let plans_made = first["verification"]["plans_made"].as_u64().unwrap();
    assert!(plans_made >= 3, "{first:#}");
    let entries_after = entries(&admin).await;
    assert!(
        entries_after - entries_before < 10,
        "the scan added {} pg_stat_statements entries ({plans_made} plans)",
        entries_after - entries_before
    );
    assert_eq!(
        dealloc(&admin).await,
        dealloc_before,
        "entries were evicted"
    );

    let (second, _) = scan(&db.url, &[]);
    assert_eq!(
        second["statements_analyzed"], first["statements_analyzed"],
        "first: {first:#}\nsecond: {second:#}"
    );
    assert_eq!(second["indexes"], first["indexes"]);
}

/// A login role with pg_monitor and SELECT on the public tables, allowed to
/// connect to `db` only: it cannot switch pg_stat_statements off.
async fn monitoring_role(db: &TestDb, role: &str, password: &str) -> String {
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}';
             GRANT pg_monitor TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
             REVOKE CONNECT ON DATABASE \"{db}\" FROM PUBLIC;
             GRANT CONNECT ON DATABASE \"{db}\" TO {role};",
            db = db.name
        ))
        .await
        .unwrap();
    let (host, port) = support::server().host_port();
    format!("postgresql://{role}:{password}@{host}:{port}/{}", db.name)
}

/// 300 distinct statements: a select list from the subsets of seven columns,
/// filtered on one of six.
fn distinct_statements(n: usize) -> Vec<String> {
    let extra = ["k1", "k2", "k3", "k4", "k5", "k6", "note"];
    let mut out = Vec::new();
    'all: for subset in 0u32..(1 << extra.len()) {
        for filter in 1..=6 {
            if out.len() == n {
                break 'all;
            }
            let mut list = vec!["id"];
            list.extend(
                extra
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| subset & (1 << bit) != 0)
                    .map(|(_, c)| *c),
            );
            out.push(format!(
                "SELECT {} FROM wide WHERE k{filter} = $1",
                list.join(", ")
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_monitoring_role_scan_adds_a_handful_of_entries_for_hundreds_of_statements() {
    let db = load(
        "select_pgss_role",
        r#"
        CREATE TABLE wide (
            id int PRIMARY KEY,
            k1 int NOT NULL, k2 int NOT NULL, k3 int NOT NULL,
            k4 int NOT NULL, k5 int NOT NULL, k6 int NOT NULL,
            note text NOT NULL
        );
        INSERT INTO wide
        SELECT g, (g * 3) % 5000, (g * 7) % 5000, (g * 11) % 5000,
               (g * 13) % 5000, (g * 17) % 5000, (g * 19) % 5000, 'row ' || g
        FROM generate_series(1, 30000) g;
        "#,
    )
    .await;
    require_hypopg(&db);
    let statements = distinct_statements(300);
    assert_eq!(statements.len(), 300);
    let app = db.client().await;
    for (i, sql) in statements.iter().enumerate() {
        let value = (i as i32 * 31) % 5000;
        repeat(&app, sql, 2, |call| vec![value + call]).await;
    }
    let url = monitoring_role(&db, &format!("{}_mon", db.name), "Mon1tor-Only").await;

    let admin = db.client().await;
    let entries_before = entries(&admin).await;
    let (report, stderr) = scan(&url, &["--top", "400"]);
    let entries_after = entries(&admin).await;
    assert!(
        report["statements_analyzed"].as_u64().unwrap() >= 300,
        "{stderr}\n{report:#}"
    );
    let plans_made = report["verification"]["plans_made"].as_u64().unwrap();
    assert!(plans_made >= 300, "{report:#}");
    assert!(
        proposals(&report).iter().any(|p| p["verified"] == true),
        "{stderr}\n{report:#}"
    );
    assert!(
        entries_after - entries_before < 50,
        "the scan added {} pg_stat_statements entries for {plans_made} plans",
        entries_after - entries_before
    );
}

// ------------------------------------------------- partitioned tables

const PARTITIONED_SCHEMA: &str = r#"
    CREATE TABLE events (
        id bigint NOT NULL,
        account_id int NOT NULL,
        created_at timestamptz NOT NULL,
        payload text NOT NULL
    ) PARTITION BY RANGE (created_at);
    CREATE TABLE events_2024_01 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
    CREATE TABLE events_2024_02 PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
    CREATE TABLE events_2024_03 PARTITION OF events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
    CREATE TABLE events_2024_04 PARTITION OF events FOR VALUES FROM ('2024-04-01') TO ('2024-05-01');
    INSERT INTO events
    SELECT g, 1 + (g * 7919) % 2000, timestamptz '2024-01-01' + g * interval '120 seconds', 'event ' || g
    FROM generate_series(1, 80000) g;

    CREATE TABLE sessions (
        id bigint NOT NULL,
        user_id int NOT NULL,
        started_at timestamptz NOT NULL,
        agent text NOT NULL
    ) PARTITION BY HASH (id);
    CREATE TABLE sessions_p0 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 0);
    CREATE TABLE sessions_p1 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 1);
    CREATE TABLE sessions_p2 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 2);
    CREATE TABLE sessions_p3 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 3);
    INSERT INTO sessions
    SELECT g, 1 + (g::bigint * 104729) % 4000, timestamptz '2024-01-01' + g * interval '1 minute', 'agent ' || g
    FROM generate_series(1, 80000) g;
"#;

/// Every file under `dir`, with its contents.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(contents) = std::fs::read_to_string(&path) {
            out.push((path.display().to_string(), contents));
        }
    }
    out
}

#[tokio::test]
async fn partitioned_parents_are_indexed_through_their_leaves() {
    let db = load("select_partitions", PARTITIONED_SCHEMA).await;
    require_hypopg(&db);
    let app = db.client().await;
    repeat(
        &app,
        "SELECT * FROM events WHERE account_id = $1",
        30,
        |i| vec![1 + i * 41],
    )
    .await;
    repeat(&app, "SELECT * FROM sessions WHERE user_id = $1", 30, |i| {
        vec![1 + i * 43]
    })
    .await;

    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("migrations");
    let (report, stderr) = scan(&db.url, &["--out", out.to_str().unwrap()]);
    let events = index(&report, "events", &["account_id"]);
    let sessions = index(&report, "sessions", &["user_id"]);
    for p in [events, sessions] {
        assert_verified(p);
        assert!(
            p["cost_after"].as_f64().unwrap() * 2.0 <= p["cost_before"].as_f64().unwrap(),
            "{p:#}"
        );
    }
    assert!(serves(events, "FROM events WHERE account_id"), "{events:#}");
    assert!(
        serves(sessions, "FROM sessions WHERE user_id"),
        "{sessions:#}"
    );

    let written = files(&out);
    for (table, p) in [("events", events), ("sessions", sessions)] {
        let name = p["name"].as_str().unwrap();
        let migration: Vec<&(String, String)> = written
            .iter()
            .filter(|(_, sql)| sql.contains(name))
            .collect();
        assert!(
            !migration.is_empty(),
            "no migration names {name}: {stderr}\n{written:#?}"
        );
        let all: String = migration.iter().map(|(_, sql)| sql.as_str()).collect();
        assert!(all.contains("ON ONLY"), "{table}: {all}");
        assert!(all.contains("ATTACH PARTITION"), "{table}: {all}");
    }
}

// --------------------------------------------------- hypopg's oids

/// Tables of the scale test, and statements on each.
const SCALE_TABLES: usize = 200;
const SCALE_STATEMENTS_PER_TABLE: usize = 4;

/// 3,000 rows per table, c1 the most selective column and c8 the least (each
/// picks a few rows), so the keys of every candidate come in a known order.
/// Each table is hash-partitioned in two: a candidate is a hypothetical index
/// on each leaf, which doubles what hypopg is asked for without doubling the
/// statements (each must stay above the selection's 0.1% share of the
/// workload to be weighed at all).
fn scale_schema() -> String {
    let mut sql = String::new();
    for t in 0..SCALE_TABLES {
        sql.push_str(&format!(
            "CREATE TABLE s{t} (id int NOT NULL, c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int, c8 int)
                 PARTITION BY HASH (id);
             CREATE TABLE s{t}_0 PARTITION OF s{t} FOR VALUES WITH (MODULUS 2, REMAINDER 0);
             CREATE TABLE s{t}_1 PARTITION OF s{t} FOR VALUES WITH (MODULUS 2, REMAINDER 1);
             INSERT INTO s{t} SELECT g, (g * 3) % 1500, (g * 7) % 1400, (g * 11) % 1300, (g * 13) % 1200,
                    (g * 17) % 1100, (g * 19) % 1000, (g * 23) % 900, (g * 29) % 800
             FROM generate_series(1, 3000) g;\n"
        ));
    }
    sql
}

/// Statement `j` on table `t`: equality on four columns, sorted by a fifth.
/// Each has its own full candidate and its own first two keys; the eight
/// single-column forms are shared on the table.
fn scale_statement(t: usize, j: usize, x: usize) -> String {
    let (columns, sort) = match j {
        0 => ([1, 2, 3, 4], 5),
        1 => ([3, 4, 5, 6], 7),
        2 => ([5, 6, 7, 8], 1),
        _ => ([2, 4, 6, 8], 3),
    };
    let filters: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(n, c)| format!("c{c} = {}", x + n))
        .collect();
    format!(
        "SELECT id FROM s{t} WHERE {} ORDER BY c{sort}",
        filters.join(" AND ")
    )
}

#[tokio::test]
async fn thousands_of_hypothetical_indexes_fit_in_hypopgs_oid_range() {
    let db = load("select_scale", &scale_schema()).await;
    require_hypopg(&db);
    let app = db.client().await;
    let mut workload = String::new();
    for call in 0..5 {
        for t in 0..SCALE_TABLES {
            for j in 0..SCALE_STATEMENTS_PER_TABLE {
                workload.push_str(&scale_statement(t, j, call));
                workload.push_str(";\n");
            }
        }
    }
    app.batch_execute(&workload).await.unwrap();
    // A role that cannot switch tracking off: pg_stat_statements then counts
    // the hypothetical indexes the scan creates.
    let url = monitoring_role(&db, &format!("{}_mon", db.name), "Mon1tor-Only").await;

    let started = std::time::Instant::now();
    let (report, stderr) = scan(&url, &["--top", "1000"]);
    let elapsed = started.elapsed();
    assert!(!stderr.contains("verification stopped"), "{stderr}");
    let statements = SCALE_TABLES * SCALE_STATEMENTS_PER_TABLE;
    assert!(
        report["statements_analyzed"].as_u64().unwrap() as usize >= statements,
        "{stderr}\n{}",
        report["statements_skipped_by_reason"]
    );
    let all = proposals(&report);
    assert!(!all.is_empty(), "{stderr}");
    let unverified: Vec<&Value> = all.iter().filter(|p| p["verified"] != true).collect();
    assert!(
        unverified.is_empty(),
        "{} of {} proposals unverified: {:#}",
        unverified.len(),
        all.len(),
        unverified[0]
    );
    let admin = db.client().await;
    let created: i64 = admin
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query LIKE '%hypopg_create_index%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let v = &report["verification"];
    eprintln!(
        "scale: {elapsed:?}, {created} hypothetical indexes, {} candidates, {} plans, {} resets, {} proposals",
        v["candidates_considered"],
        v["plans_made"],
        v["hypopg_resets"],
        all.len()
    );
    assert!(
        created > 4500,
        "only {created} hypothetical indexes created; candidates {}, plans {}",
        v["candidates_considered"],
        v["plans_made"]
    );
    assert_eq!(v["hypopg_resets"], 0, "{v:#}");
}
