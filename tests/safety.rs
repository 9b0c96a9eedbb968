//! The promises made to a DBA who points pgadvise at production: it needs no
//! more than the monitoring roles, writes nothing, leaks no password, and the
//! DDL it proposes does exactly what it says on any identifier.

mod support;

use pgadvise::run::exit;
use std::process::Output;
use support::{pgadvise, text, TestDb};
use tokio_postgres::Client;

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// Orders looked up by customer, often enough to be worth an index.
async fn db_with_workload(prefix: &str) -> TestDb {
    let db = TestDb::create(prefix).await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, shipped_at timestamptz);
         INSERT INTO orders SELECT g, g % 500, CASE WHEN g % 10 = 0 THEN now() END
         FROM generate_series(1, 20000) g;
         ANALYZE orders;",
    )
    .await
    .unwrap();
    db.reset_statements(&c).await;
    let stmt = c
        .prepare("SELECT id FROM orders WHERE customer = $1")
        .await
        .unwrap();
    for p in 0..5 {
        c.query(&stmt, &[&p]).await.unwrap();
    }
    db
}

/// A login role with `password`, member of `grants` (if any), allowed to connect to `db` only.
async fn monitoring_role(db: &TestDb, role: &str, password: &str, grants: &str) {
    let c = db.client().await;
    let grant = if grants.is_empty() {
        String::new()
    } else {
        format!("GRANT {grants} TO {role};")
    };
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}';
         {grant}
         REVOKE CONNECT ON DATABASE \"{db}\" FROM PUBLIC;
         GRANT CONNECT ON DATABASE \"{db}\" TO {role};",
        db = db.name
    ))
    .await
    .unwrap();
}

fn role_url(db: &TestDb, role: &str, password: &str) -> String {
    let (host, port) = support::server().host_port();
    format!("postgresql://{role}:{password}@{host}:{port}/{}", db.name)
}

/// The proposal for `orders (customer)` in a JSON report.
fn customer_proposal(report: &serde_json::Value) -> &serde_json::Value {
    report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.orders" && p["columns"][0] == "customer")
        .unwrap_or_else(|| panic!("no index on orders (customer) proposed: {report:#}"))
}

#[tokio::test]
async fn scan_and_pool_work_with_only_the_monitoring_roles() {
    let db = db_with_workload("safety_privilege").await;
    let password = "Mon1tor-Only";

    // CONNECT alone: every statement text is hidden, and the fix is named.
    let bare = format!("{}_bare", db.name);
    monitoring_role(&db, &bare, password, "").await;
    let out = pgadvise()
        .arg("scan")
        .arg(role_url(&db, &bare, password))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::PREREQUISITE)),
        "{stderr}"
    );
    assert!(stderr.contains("GRANT pg_read_all_stats TO"), "{stderr}");

    for grants in ["pg_monitor", "pg_read_all_stats"] {
        let role = format!("{}_{grants}", db.name);
        monitoring_role(&db, &role, password, grants).await;
        let url = role_url(&db, &role, password);

        // Without SELECT on the table, EXPLAIN is refused: the proposal stays, unverified.
        let scan = pgadvise()
            .args(["scan", "--format", "json"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&scan.stderr);
        assert_eq!(
            scan.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let report = json(&scan);
        assert_eq!(
            customer_proposal(&report)["verified"],
            false,
            "{grants}: {report:#}"
        );
        // (Servers without hypopg, as in scripts/test-matrix, never plan.)
        assert_eq!(
            stderr.contains("could not be planned") && stderr.contains("permission denied"),
            db.has_hypopg,
            "{grants}: {stderr}"
        );

        // SELECT on the tables is all hypopg verification adds: its functions
        // are executable by PUBLIC.
        db.client()
            .await
            .batch_execute(&format!("GRANT SELECT ON orders TO {role}"))
            .await
            .unwrap();
        let scan = pgadvise()
            .args(["scan", "--format", "json"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&scan.stderr);
        assert_eq!(
            scan.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let report = json(&scan);
        assert_eq!(
            customer_proposal(&report)["verified"],
            db.has_hypopg,
            "{grants}: {report:#}"
        );
        assert!(
            !stderr.contains("could not be planned"),
            "{grants}: {stderr}"
        );

        let pool = pgadvise()
            .args(["pool", "--format", "json", "--sample-window", "1s"])
            .arg(&url)
            .output()
            .unwrap();
        let stderr = text(&pool.stderr);
        assert_eq!(
            pool.status.code(),
            Some(i32::from(exit::SUCCESS)),
            "{grants}: {stderr}"
        );
        let verdict = json(&pool);
        assert!(
            verdict["pool"]["samples"].as_u64().unwrap() > 0,
            "{verdict:#}"
        );
        assert!(
            verdict["pool"]["budget"].as_u64().unwrap() > 0,
            "{verdict:#}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.json");
        let snap = pgadvise()
            .args(["snapshot", "-o"])
            .arg(&file)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(
            snap.status.code(),
            Some(0),
            "{grants}: {}",
            text(&snap.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(doc["statements"]["hidden_count"], 0, "{grants}");
    }
}

/// Everything a write would change, read from a fresh session.
#[derive(Debug, PartialEq)]
struct WriteEvidence {
    /// pg_stat_database: tup_inserted, tup_updated, tup_deleted.
    database_tuples: (i64, i64, i64),
    /// pg_stat_all_tables (catalogs included): relation, n_tup_ins, n_tup_upd, n_tup_del.
    table_tuples: Vec<(String, i64, i64, i64)>,
    /// pg_class: oid, name, relfilenode.
    relations: Vec<(u32, String, u32)>,
    /// pg_index: index, table, valid.
    indexes: Vec<(u32, u32, bool)>,
    /// The next transaction id: any write would have taken one.
    next_xid: String,
}

/// Waits until no other session is in `database`, so that every backend that
/// ran there has flushed its statistics (a backend reports them as it exits).
async fn quiet_evidence(url: &str, database: &str) -> WriteEvidence {
    let c = support::connect(url).await;
    let start = std::time::Instant::now();
    loop {
        let others: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&database],
            )
            .await
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "sessions linger in {database}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The exiting backend leaves pg_stat_activity just before it flushes.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    c.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    let row = c
        .query_one(
            "SELECT tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = $1",
            &[&database],
        )
        .await
        .unwrap();
    let database_tuples = (row.get(0), row.get(1), row.get(2));
    let table_tuples = c
        .query(
            "SELECT relid::regclass::text, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_all_tables ORDER BY relid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let relations = c
        .query(
            "SELECT oid, relname::text, relfilenode FROM pg_class ORDER BY oid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let indexes = c
        .query(
            "SELECT indexrelid, indrelid, indisvalid FROM pg_index ORDER BY indexrelid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let next_xid = c
        .query_one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text", &[])
        .await
        .unwrap()
        .get(0);
    WriteEvidence {
        database_tuples,
        table_tuples,
        relations,
        indexes,
        next_xid,
    }
}

#[tokio::test]
async fn a_full_scan_writes_nothing() {
    use pgadvise::cluster::{ClusterOptions, LocalCluster};
    // A cluster of its own: autovacuum and other tests would move the counters.
    let cluster = LocalCluster::start(&ClusterOptions {
        settings: vec![("autovacuum".into(), "off".into())],
        ..ClusterOptions::default()
    })
    .expect("a throwaway cluster");
    let admin = support::connect(&cluster.url("postgres")).await;
    admin.batch_execute("CREATE DATABASE shop").await.unwrap();
    let url = cluster.url("shop");
    let c = support::connect(&url).await;
    c.batch_execute(
        "CREATE EXTENSION pg_stat_statements;
         CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, shipped_at timestamptz);
         INSERT INTO orders SELECT g, g % 500, CASE WHEN g % 10 = 0 THEN now() END
         FROM generate_series(1, 20000) g;
         ANALYZE orders;",
    )
    .await
    .unwrap();
    let has_hypopg: bool = c
        .query_one(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if has_hypopg {
        c.batch_execute("CREATE EXTENSION hypopg").await.unwrap();
    }
    let stmt = c
        .prepare("SELECT id FROM orders WHERE customer = $1 AND shipped_at IS NULL")
        .await
        .unwrap();
    for p in 0..5 {
        c.query(&stmt, &[&p]).await.unwrap();
    }
    drop(c);

    let before = quiet_evidence(&cluster.url("postgres"), "shop").await;
    let dir = tempfile::tempdir().unwrap();
    let scan = pgadvise()
        .args([
            "scan",
            "--format",
            "json",
            "--sample-window",
            "1s",
            "--save-snapshot",
        ])
        .arg(dir.path().join("snap.json"))
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(0), "{}", text(&scan.stderr));
    let report = json(&scan);
    // Verification ran where it can: hypothetical indexes created, planned, dropped.
    assert_eq!(
        customer_proposal(&report)["verified"],
        has_hypopg,
        "{report:#}"
    );
    for args in [vec!["snapshot"], vec!["pool", "--sample-window", "1s"]] {
        let out = pgadvise().args(&args).arg(&url).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let after = quiet_evidence(&cluster.url("postgres"), "shop").await;
    assert_eq!(before, after, "pgadvise changed the database");

    // The evidence does see a write: a session that only creates a temporary table.
    let writer = support::connect(&url).await;
    writer
        .batch_execute("CREATE TEMP TABLE scratch (x int); INSERT INTO scratch VALUES (1)")
        .await
        .unwrap();
    drop(writer);
    let written = quiet_evidence(&cluster.url("postgres"), "shop").await;
    assert_ne!(after.database_tuples, written.database_tuples);
    assert_ne!(after.next_xid, written.next_xid);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_password_never_appears_in_any_output() {
    let db = db_with_workload("safety_secret").await;
    let role = format!("{}_app", db.name);
    // Characters that need percent-encoding in a URL and quoting in conninfo.
    let password = "Zq9!s3cr3t#P@ss:w/rd";
    let encoded = "Zq9%21s3cr3t%23P%40ss%3Aw%2Frd";
    monitoring_role(&db, &role, password, "pg_monitor").await;
    db.client()
        .await
        .batch_execute(&format!("GRANT SELECT ON orders TO {role}"))
        .await
        .unwrap();
    let (host, port) = support::server().host_port();
    let dir = tempfile::tempdir().unwrap();
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("{host}:{port}:*:{role}:{password}\n")).unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();

    enum Secret {
        Url,
        Env,
        PassFile,
    }
    let mut runs = 0;
    for secret in [Secret::Url, Secret::Env, Secret::PassFile] {
        for database in [db.name.as_str(), "no_such_database_here"] {
            let url = match secret {
                Secret::Url => {
                    format!("postgresql://{role}:{encoded}@{host}:{port}/{database}")
                }
                _ => format!("postgresql://{role}@{host}:{port}/{database}"),
            };
            let commands: [Vec<String>; 5] = [
                vec![
                    "scan".into(),
                    "--format".into(),
                    "json".into(),
                    "--save-snapshot".into(),
                ],
                vec!["scan".into(), "--save-snapshot".into()],
                vec!["snapshot".into(), "-o".into()],
                vec![
                    "pool".into(),
                    "--sample-window".into(),
                    "300ms".into(),
                    "--save-snapshot".into(),
                ],
                // Every file a scan can write: migrations, PR body, HTML report; SARIF on stdout.
                vec![
                    "scan".into(),
                    "--format".into(),
                    "sarif".into(),
                    "--no-verify".into(),
                    "--out".into(),
                    "{out}/migrations{run}".into(),
                    "--pr-body".into(),
                    "{out}/pr{run}.md".into(),
                    "--report".into(),
                ],
            ];
            for args in commands {
                runs += 1;
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.replace("{out}", &out_dir.display().to_string())
                            .replace("{run}", &runs.to_string())
                    })
                    .collect();
                let extension = if args.contains(&"--report".to_string()) {
                    "html"
                } else {
                    "json"
                };
                let file = out_dir.join(format!("run{runs}.{extension}"));
                let mut cmd = pgadvise();
                cmd.args(&args).arg(&file).arg(&url);
                match secret {
                    Secret::Env => {
                        cmd.env("PGPASSWORD", password);
                    }
                    Secret::PassFile => {
                        cmd.env("PGPASSFILE", &pgpass);
                    }
                    Secret::Url => {}
                }
                let out = cmd.output().unwrap();
                let expected = if database == db.name { 0 } else { 3 };
                assert_eq!(
                    out.status.code(),
                    Some(expected),
                    "{args:?} on {database}: {}",
                    text(&out.stderr)
                );
                for (what, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                    let stream = text(stream);
                    assert!(
                        !stream.contains(password) && !stream.contains(encoded),
                        "{args:?} on {database}: password in {what}:\n{stream}"
                    );
                }
            }
        }
    }
    // Files were written (the successful runs), and none holds the password.
    let written = files_under(&out_dir);
    let ending = |suffix: &str| {
        written
            .iter()
            .filter(|f| f.to_string_lossy().ends_with(suffix))
            .count()
    };
    assert_eq!(ending(".json"), 12 + ending(".verify.json"), "{written:?}");
    assert_eq!(ending(".html"), 3, "{written:?}");
    assert_eq!(ending(".md"), 3, "{written:?}");
    assert!(ending(".down.sql") >= 3, "migrations written: {written:?}");
    for file in written {
        let contents = std::fs::read_to_string(&file).unwrap();
        assert!(
            !contents.contains(password) && !contents.contains(encoded),
            "password in {}",
            file.display()
        );
    }
}

/// Quotes an identifier for the test's own SQL (independently of pgadvise's `ident`).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// (schema, table, column): every kind of name PostgreSQL accepts and a tool may mangle.
fn weird_tables() -> Vec<(String, String, String)> {
    let long_ascii = |c: char| std::iter::repeat_n(c, 63).collect::<String>();
    // 31 two-byte letters and one ASCII: exactly 63 bytes, the limit.
    let long_unicode = |c: char| format!("{}x", std::iter::repeat_n(c, 31).collect::<String>());
    let table = |s: &str, t: &str, c: &str| (s.to_string(), t.to_string(), c.to_string());
    let v = vec![
        table("My Schema", "Order \"Items\"", "Customer Id"),
        table("select", "user", "select"),
        table("Ünïcødé", "Größe Tabelle", "größe"),
        table("public", "MixedCase", "MixedCol"),
        table("public", "a.b", "x y"),
        (long_ascii('s'), long_ascii('t'), long_ascii('c')),
        table("public", &long_unicode('é'), &long_unicode('ü')),
        // Two names that read alike once made ASCII: the index names must still differ.
        table("public", "Straße", "Wert"),
        table("public", "stra e", "wert"),
    ];
    for (s, t, c) in &v {
        assert!(s.len() <= 63 && t.len() <= 63 && c.len() <= 63);
    }
    v
}

/// Every index outside the system schemas: (schema, table, index, key columns).
async fn user_indexes(c: &Client) -> Vec<(String, String, String, Vec<String>)> {
    c.query(
        "SELECT n.nspname::text, t.relname::text, i.relname::text,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
         ORDER BY 1, 2, 3",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

#[tokio::test]
async fn proposed_ddl_on_weird_identifiers_creates_exactly_the_intended_index() {
    let db = TestDb::create("safety_idents").await;
    let c = db.client().await;
    let tables = weird_tables();
    for (schema, table, column) in &tables {
        let qualified = format!("{}.{}", quoted(schema), quoted(table));
        c.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema_q};
             CREATE TABLE {qualified} (id int PRIMARY KEY, {col} int NOT NULL, payload text);
             INSERT INTO {qualified} SELECT g, g % 700, 'p' FROM generate_series(1, 6000) g;
             ANALYZE {qualified};",
            schema_q = quoted(schema),
            col = quoted(column),
        ))
        .await
        .unwrap_or_else(|e| panic!("creating {qualified}: {e}"));
    }
    db.reset_statements(&c).await;
    for (schema, table, column) in &tables {
        let stmt = c
            .prepare(&format!(
                "SELECT id, payload FROM {}.{} WHERE {} = $1",
                quoted(schema),
                quoted(table),
                quoted(column)
            ))
            .await
            .unwrap();
        for p in 0..5 {
            c.query(&stmt, &[&p]).await.unwrap();
        }
    }

    let scan = pgadvise()
        .args(["scan", "--format", "json"])
        .arg(&db.url)
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(0), "{}", text(&scan.stderr));
    let report = json(&scan);
    let proposals = report["indexes"].as_array().unwrap();
    assert_eq!(
        proposals.len(),
        tables.len(),
        "one index per table: {report:#}"
    );

    // hypopg took the same names: every proposal was verified where it could be.
    assert!(
        proposals.iter().all(|p| p["verified"] == db.has_hypopg),
        "{report:#}"
    );
    let before = user_indexes(&c).await;
    for proposal in proposals {
        let ddl = proposal["ddl"].as_str().unwrap();
        c.batch_execute(ddl)
            .await
            .unwrap_or_else(|e| panic!("applying {ddl}: {e}"));
    }
    let after = user_indexes(&c).await;
    let created: Vec<_> = after.iter().filter(|i| !before.contains(i)).collect();
    assert!(
        before.iter().all(|i| after.contains(i)),
        "an index disappeared"
    );
    assert_eq!(
        created.len(),
        tables.len(),
        "{created:#?}\nfrom {proposals:#?}"
    );
    for (schema, table, column) in &tables {
        let on_table: Vec<_> = created
            .iter()
            .filter(|(s, t, _, _)| s == schema && t == table)
            .collect();
        assert_eq!(on_table.len(), 1, "{schema}.{table}: {created:#?}");
        let (_, _, name, keys) = on_table[0];
        assert_eq!(keys, &vec![column.clone()], "{schema}.{table}");
        // The proposal's name is the index's real name (not truncated by the server).
        assert!(
            proposals.iter().any(|p| p["name"] == name.as_str()),
            "{name} is not a proposed name: {proposals:#?}"
        );
    }
    // Applying the same DDL again is a no-op (IF NOT EXISTS), not a second index.
    for proposal in proposals {
        c.batch_execute(proposal["ddl"].as_str().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(user_indexes(&c).await, after);
}

#[tokio::test]
async fn sort_keys_predicates_and_expressions_on_weird_names_keep_their_quoting() {
    let db = TestDb::create("safety_ident_keys").await;
    let c = db.client().await;
    let table = "\"My Schema\".\"Événements \"\"Log\"\"\"";
    c.batch_execute(&format!(
        "CREATE SCHEMA \"My Schema\";
         CREATE TABLE {table} (id int PRIMARY KEY, \"Customer Id\" int NOT NULL,
             \"Created At\" timestamptz NOT NULL, \"Shipped At\" timestamptz, \"E-Mail\" text NOT NULL);
         INSERT INTO {table} SELECT g, g % 400, now() - g * interval '1 minute',
             CASE WHEN g % 20 <> 0 THEN now() END, 'User' || g || '@Example.com'
         FROM generate_series(1, 20000) g;
         ANALYZE {table};"
    ))
    .await
    .unwrap();
    db.reset_statements(&c).await;
    let queries = [
        format!(
            "SELECT id FROM {table} WHERE \"Customer Id\" = $1 AND \"Shipped At\" IS NULL \
             ORDER BY \"Created At\" DESC LIMIT 20"
        ),
        format!("SELECT id FROM {table} WHERE lower(\"E-Mail\") = $1"),
    ];
    for (i, sql) in queries.iter().enumerate() {
        let stmt = c.prepare(sql).await.unwrap();
        for p in 0..5 {
            if i == 0 {
                c.query(&stmt, &[&p]).await.unwrap();
            } else {
                c.query(&stmt, &[&format!("user{p}@example.com")])
                    .await
                    .unwrap();
            }
        }
    }
    let scan = pgadvise()
        .args(["scan", "--format", "json"])
        .arg(&db.url)
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(0), "{}", text(&scan.stderr));
    let report = json(&scan);
    let proposals = report["indexes"].as_array().unwrap();

    let before = index_definitions(&c).await;
    for proposal in proposals {
        let ddl = proposal["ddl"].as_str().unwrap();
        c.batch_execute(ddl)
            .await
            .unwrap_or_else(|e| panic!("applying {ddl}: {e}"));
    }
    let created: Vec<(String, String)> = index_definitions(&c)
        .await
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    // What the server itself says the new indexes are: quoting, DESC, the
    // partial predicate and the expression all survived, and nothing else appeared.
    let name_of = |first_key: &str| {
        proposals
            .iter()
            .find(|p| p["columns"][0] == first_key)
            .unwrap_or_else(|| panic!("no proposal led by {first_key}: {proposals:#?}"))["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let by_customer = name_of("Customer Id");
    let by_email = name_of("lower(\"E-Mail\")");
    let mut expected = vec![
        (
            by_customer.clone(),
            format!(
                "CREATE INDEX {by_customer} ON {table} USING btree (\"Customer Id\", \"Created At\" DESC) \
                 WHERE (\"Shipped At\" IS NULL)"
            ),
        ),
        (
            by_email.clone(),
            format!("CREATE INDEX {by_email} ON {table} USING btree (lower(\"E-Mail\"))"),
        ),
    ];
    expected.sort();
    assert_eq!(created, expected, "{proposals:#?}");
}

/// (index name, pg_get_indexdef) of every index in the user's schemas.
async fn index_definitions(c: &Client) -> Vec<(String, String)> {
    c.query(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}
