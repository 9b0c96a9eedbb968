//! The `pgadvise` binary as a user runs it: connecting every supported way,
//! snapshots and offline scans, and every error with its exit code.

mod support;

use pgadvise::cluster::{ClusterOptions, LocalCluster, TlsFiles};
use pgadvise::snapshot::Snapshot;
use std::path::Path;
use std::process::{Command, Output};
use support::{pgadvise, text, TestDb};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running pgadvise")
}

/// A small workload every test here can find in the snapshot.
async fn db_with_workload(prefix: &str) -> TestDb {
    let db = TestDb::create(prefix).await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL, price int NOT NULL, archived_at timestamptz);
         INSERT INTO items SELECT g, 'sku-' || g, g % 500, CASE WHEN g % 4 = 0 THEN now() END
         FROM generate_series(1, 2000) g;
         CREATE INDEX items_live_sku ON items (sku) WHERE archived_at IS NULL;
         ANALYZE items;",
    )
    .await
    .unwrap();
    db.reset_statements(&c).await;
    let stmt = c
        .prepare("SELECT id FROM items WHERE price = $1")
        .await
        .unwrap();
    for p in 0..4 {
        c.query(&stmt, &[&p]).await.unwrap();
    }
    db
}

/// A role with a password and the statistics privilege, for the password paths.
async fn role_with_password(db: &TestDb, role: &str, password: &str) {
    let c = db.client().await;
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT pg_read_all_stats TO {role};"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn snapshot_then_offline_scan_gives_the_same_report() {
    let db = db_with_workload("cli_roundtrip").await;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("analyzed.json");

    // Offline there is no server to plan on, so the comparison is with the
    // live scan's analysis before hypopg verification.
    let live = run(pgadvise()
        .args(["scan", "--format", "json", "--no-verify", "--save-snapshot"])
        .arg(&saved)
        .arg(&db.url));
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let offline = run(pgadvise()
        .args(["scan", "--format", "json", "--snapshot"])
        .arg(&saved));
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert_eq!(text(&live.stdout), text(&offline.stdout));
    let report: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert!(
        !report["indexes"].as_array().unwrap().is_empty(),
        "the comparison covers proposals too: {report:#}"
    );

    // An output that cannot be written: exit 6, and nothing half-written.
    let out = run(pgadvise()
        .args(["scan", "--format", "json", "--snapshot"])
        .arg(&saved)
        .arg("--save-snapshot")
        .arg(dir.path().join("no/such/dir/x.json")));
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no/such/dir/x.json"));

    let report: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "pgadvise_version",
            "server",
            "statements_analyzed",
            "statements_skipped",
            "statements_skipped_by_reason",
            "indexes",
            "findings",
            "drops",
            "pool",
            "verification"
        ]
    );
    assert!(report["server"]["version_num"].as_i64().unwrap() >= 130000);
    assert!(report["pool"].is_null());
    // The workload's SELECT is analyzed; pgadvise's own statements and the
    // test's DDL are skipped, never analyzed.
    assert!(
        report["statements_analyzed"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["statements_skipped"].as_u64().unwrap() >= 1,
        "{report}"
    );

    // `pgadvise snapshot -o` writes the same kind of document, with the workload in it.
    let file = dir.path().join("snap.json");
    let out = run(pgadvise().arg("snapshot").arg("-o").arg(&file).arg(&db.url));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snap = Snapshot::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let entry = snap
        .statements
        .entries
        .iter()
        .find(|s| s.query == "SELECT id FROM items WHERE price = $1")
        .expect("workload statement");
    assert_eq!(entry.calls, 4);
    let index = snap
        .indexes
        .iter()
        .find(|i| i.name == "items_live_sku")
        .unwrap();
    assert_eq!(index.predicate.as_deref(), Some("archived_at IS NULL"));
    assert!(text(&out.stderr).contains("wrote"));
}

#[tokio::test]
async fn text_summary_names_what_was_read() {
    let db = db_with_workload("cli_text").await;
    let out = run(pgadvise().arg("scan").arg(&db.url));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("/{}", db.name)), "{stdout}");
    assert!(stdout.contains("statements"), "{stdout}");
    assert!(stdout.contains("tables       1 "), "{stdout}");
    assert!(stdout.contains("indexes      2 "), "{stdout}");
    assert!(
        stdout.contains("SELECT id FROM items WHERE price = $1"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("/* pgadvise */"),
        "own statements listed: {stdout}"
    );
}

#[tokio::test]
async fn connects_from_database_url_and_libpq_variables() {
    let db = db_with_workload("cli_env").await;
    let (host, port) = support::server().host_port();

    let out = run(pgadvise()
        .args(["scan", "--format", "json"])
        .env("DATABASE_URL", &db.url));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = run(pgadvise()
        .args(["scan", "--format", "json"])
        .env("PGHOST", &host)
        .env("PGPORT", port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db.name));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let conninfo = format!("host={host} port={port} user=postgres dbname='{}'", db.name);
    let out = run(pgadvise().args(["scan", "--database-url", &conninfo]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test]
async fn passwords_never_appear_in_any_output() {
    let db = db_with_workload("cli_secret").await;
    let role = format!("{}_app", db.name);
    let password = "Sup3r-S3cret-Pw";
    role_with_password(&db, &role, password).await;
    let (host, port) = support::server().host_port();
    let dir = tempfile::tempdir().unwrap();

    let check = |out: &Output, files: &[&Path], how: &str| {
        assert_eq!(out.status.code(), Some(0), "{how}: {}", text(&out.stderr));
        for stream in [&out.stdout, &out.stderr] {
            assert!(!text(stream).contains(password), "{how}: password printed");
        }
        for file in files {
            let contents = std::fs::read_to_string(file).unwrap();
            assert!(
                !contents.contains(password),
                "{how}: password in {}",
                file.display()
            );
        }
    };

    // In the URL.
    let url = format!("postgresql://{role}:{password}@{host}:{port}/{}", db.name);
    let snap = dir.path().join("url.json");
    let out = run(pgadvise().arg("snapshot").arg("-o").arg(&snap).arg(&url));
    check(&out, &[&snap], "URL");
    let doc = std::fs::read_to_string(&snap).unwrap();
    assert!(doc.contains(&format!("\"target\": \"{role}@{host}:{port}/{}\"", db.name)));
    let out = run(pgadvise().arg("scan").arg(&url));
    check(&out, &[], "URL scan");

    // In PGPASSWORD.
    let bare = format!("postgresql://{role}@{host}:{port}/{}", db.name);
    let out = run(pgadvise()
        .args(["scan", "--format", "json"])
        .arg(&bare)
        .env("PGPASSWORD", password));
    check(&out, &[], "PGPASSWORD");

    // In a password file.
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("{host}:{port}:*:{role}:{password}\n")).unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let snap = dir.path().join("pgpass.json");
    let out = run(pgadvise()
        .arg("snapshot")
        .arg("-o")
        .arg(&snap)
        .arg(&bare)
        .env("PGPASSFILE", &pgpass));
    check(&out, &[&snap], "PGPASSFILE");

    // A wrong password: refused, exit 3, and neither password is echoed.
    let wrong = format!("postgresql://{role}:Wr0ng-Pw-123@{host}:{port}/{}", db.name);
    let out = run(pgadvise().arg("scan").arg(&wrong));
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("authentication"), "{stderr}");
    assert!(
        !stderr.contains("Wr0ng-Pw-123") && !stderr.contains(password),
        "{stderr}"
    );
}

#[tokio::test]
async fn connection_errors_are_clear_and_distinct() {
    let (host, port) = support::server().host_port();
    let cases: [(String, i32, &str); 4] = [
        (
            "postgresql://postgres@127.0.0.1:1/x".into(),
            3,
            "connection refused",
        ),
        (
            format!("postgresql://postgres@{host}:{port}/no_such_database_here"),
            3,
            "no_such_database_here",
        ),
        (
            "postgresql://postgres@127.0.0.1:notaport/x".into(),
            2,
            "port",
        ),
        ("host=localhost frobnicate=1".into(), 2, "frobnicate"),
    ];
    for (conn, code, needle) in cases {
        let out = run(pgadvise().arg("scan").arg(&conn));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{conn}: {stderr}");
        assert!(stderr.contains(needle), "{conn}: {stderr}");
        assert!(!stderr.contains("panicked"), "{conn}: {stderr}");
    }
}

#[tokio::test]
async fn prerequisites_name_their_fix() {
    // The extension exists on the server but not in this database.
    let db = TestDb::create("cli_noext").await;
    db.client()
        .await
        .batch_execute("DROP EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let out = run(pgadvise().arg("scan").arg(&db.url));
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ALTER SYSTEM"),
        "the library is loaded: {stderr}"
    );
}

#[test]
fn a_server_without_the_library_preloaded_gets_the_exact_fix() {
    let cluster = LocalCluster::start(&ClusterOptions {
        without_pg_stat_statements: true,
        ..ClusterOptions::default()
    })
    .expect("a second throwaway cluster");
    let out = run(pgadvise().arg("scan").arg(cluster.url("postgres")));
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';"),
        "{stderr}"
    );
    assert!(stderr.contains("restart"), "{stderr}");
}

#[test]
fn bad_snapshot_files_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let out = run(pgadvise().arg("scan").arg("--snapshot").arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.json"));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"hello\": 1}").unwrap();
    let out = run(pgadvise().arg("scan").arg("--snapshot").arg(&garbage));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a pgadvise snapshot"));

    let future = dir.path().join("future.json");
    std::fs::write(&future, "{\"format_version\": 999}").unwrap();
    let out = run(pgadvise().arg("scan").arg("--snapshot").arg(&future));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("version 999"));
}

#[test]
fn a_bad_value_in_pgadvise_toml_names_its_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = "quiet = true\n\n[advisor]\ntop = 5\nbudget = \"lots\"\n";
    std::fs::write(dir.path().join("pgadvise.toml"), file).unwrap();
    // Found in the working directory, and read before anything else is done.
    let out = run(pgadvise()
        .current_dir(dir.path())
        .args(["scan", "--snapshot", "missing.json"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "pgadvise: error: pgadvise.toml line 5: [advisor] budget: \
         'lots' is not a size such as 500MB or 2GB",
    );

    // Given with --config: the same, under its own name; a duration too.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[connection]\nlock_timeout = \"soon\"\n").unwrap();
    let out =
        run(pgadvise()
            .arg("--config")
            .arg(&other)
            .args(["audit", "--snapshot", "missing.json"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("other.toml line 2: [connection] lock_timeout: 'soon' is not a duration"),
        "{stderr}"
    );
}

/// openssl makes a CA and a server certificate for localhost and 127.0.0.1.
fn make_certificates(dir: &Path) -> (std::path::PathBuf, TlsFiles) {
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .expect("openssl (scripts/setup, or: apt-get install openssl)");
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=pgadvise test CA' \
        -keyout ca.key -out ca.crt 2>/dev/null",
    );
    sh("openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr 2>/dev/null");
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile san.ext -out server.crt 2>/dev/null",
    );
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' \
        -keyout other.key -out other.crt 2>/dev/null",
    );
    (
        dir.join("ca.crt"),
        TlsFiles {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        },
    )
}

#[test]
fn tls_modes_verify_what_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, files) = make_certificates(dir.path());
    let cluster = LocalCluster::start(&ClusterOptions {
        tls: Some(files),
        ..ClusterOptions::default()
    })
    .expect("a TLS cluster");
    let port = cluster.port();
    let other_ca = dir.path().join("other.crt");
    let url = |host: &str, mode: &str, root: &Path| {
        format!(
            "postgresql://postgres@{host}:{port}/postgres?sslmode={mode}&sslrootcert={}",
            root.display()
        )
    };
    // The extension is not created in `postgres`: exit 4 proves the connection
    // (and the TLS handshake) succeeded; 3 means it was refused.
    let cases = [
        (url("localhost", "verify-full", &ca), 4, ""),
        (url("127.0.0.1", "verify-full", &ca), 4, ""),
        (url("127.0.0.1", "verify-ca", &ca), 4, ""),
        (url("localhost", "verify-full", &other_ca), 3, "certificate"),
        (url("127.0.0.1", "verify-ca", &other_ca), 3, "certificate"),
        (
            format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=require"),
            4,
            "",
        ),
        (
            url("localhost", "verify-full", &dir.path().join("absent.crt")),
            2,
            "absent.crt",
        ),
    ];
    for (conn, code, needle) in cases {
        let out = run(pgadvise().arg("scan").arg(&conn));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{conn}: {stderr}");
        assert!(stderr.contains(needle), "{conn}: {stderr}");
    }
    // A host name the certificate does not carry fails verify-full only.
    let wrong_name = format!(
        "host=wrong.example hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres sslrootcert={}",
        ca.display()
    );
    let full = run(pgadvise()
        .arg("scan")
        .arg(format!("{wrong_name} sslmode=verify-full")));
    assert_eq!(full.status.code(), Some(3), "{}", text(&full.stderr));
    let ca_only = run(pgadvise()
        .arg("scan")
        .arg(format!("{wrong_name} sslmode=verify-ca")));
    assert_eq!(ca_only.status.code(), Some(4), "{}", text(&ca_only.stderr));
}

#[test]
fn a_server_older_than_13_is_refused_by_name() {
    // A real PostgreSQL 12, fetched like the version matrix's builds.
    let fetch = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/fetch-postgres"
    ))
    .arg("12")
    .output()
    .expect("running scripts/fetch-postgres (needs npm and python3)");
    assert!(
        fetch.status.success(),
        "scripts/fetch-postgres 12 failed: {}",
        text(&fetch.stderr)
    );
    let bin = std::path::PathBuf::from(text(&fetch.stdout).trim());
    let cluster = LocalCluster::start(&ClusterOptions {
        bin_dir: Some(bin),
        ..ClusterOptions::default()
    })
    .expect("a PostgreSQL 12 cluster");
    let out = run(pgadvise().arg("scan").arg(cluster.url("postgres")));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("PostgreSQL 12."), "{stderr}");
    assert!(stderr.contains("13 and newer"), "{stderr}");
}

#[tokio::test]
async fn a_closed_stdout_is_not_a_crash() {
    // `pgadvise snapshot | head -c 100`: the reader goes away before pgadvise writes.
    let db = db_with_workload("cli_pipe").await;
    let mut child = pgadvise()
        .arg("snapshot")
        .arg(&db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// A table with no index but its primary key, for statements given with
/// `--query`: an index on `customer_id` is the obvious advice.
const ORDERS: &str =
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL);
     INSERT INTO orders SELECT g, g % 5000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'done' END
     FROM generate_series(1, 50000) g;
     ANALYZE orders;";
const GIVEN_QUERY: &str = "SELECT id, status FROM orders WHERE customer_id = 42";

/// The index the given query gets, from a `scan --format json` report.
fn assert_orders_index(report: &serde_json::Value, verified: bool) {
    let indexes = report["indexes"].as_array().unwrap();
    let index = indexes
        .iter()
        .find(|i| i["table"] == "public.orders")
        .unwrap_or_else(|| panic!("an index on orders: {report:#}"));
    assert_eq!(index["columns"][0], "customer_id", "{report:#}");
    assert_eq!(index["verified"], verified, "{report:#}");
}

#[tokio::test]
async fn given_queries_need_no_pg_stat_statements() {
    let db = TestDb::create("cli_given").await;
    let c = db.client().await;
    c.batch_execute(ORDERS).await.unwrap();
    c.batch_execute("DROP EXTENSION pg_stat_statements")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries.sql");
    std::fs::write(&queries, format!("-- new endpoint\n{GIVEN_QUERY};\n")).unwrap();
    let saved = dir.path().join("snapshot.json");

    let cases: [Vec<std::ffi::OsString>; 3] = [
        vec!["scan".into(), "--query".into(), GIVEN_QUERY.into()],
        vec![
            "scan".into(),
            "--queries-file".into(),
            queries.clone().into(),
        ],
        vec!["audit".into(), "--query".into(), GIVEN_QUERY.into()],
    ];
    for args in cases {
        let out = run(pgadvise()
            .args(&args)
            .args(["--format", "json", "--save-snapshot"])
            .arg(&saved)
            .arg(&db.url));
        let stderr = text(&out.stderr);
        // audit may exit 1 on the missing-index finding: not a prerequisite error.
        let expected: &[i32] = if args[0] == "audit" { &[0, 1] } else { &[0] };
        assert!(
            expected.contains(&out.status.code().unwrap_or(-1)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_orders_index(&report, db.has_hypopg);
        assert_eq!(report["statements_analyzed"], 1, "{report:#}");
        // One warning, with the one-line fix; no other complaint about statistics.
        assert_eq!(
            stderr.matches("the workload itself was not read").count(),
            1,
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"),
            "{stderr}"
        );
        assert!(!stderr.contains("ALTER SYSTEM"), "{stderr}");
        assert!(!stderr.contains("none of"), "{stderr}");
        let snapshot = Snapshot::from_json(&std::fs::read_to_string(&saved).unwrap()).unwrap();
        assert!(snapshot.statements.entries.is_empty());
        assert_eq!(
            snapshot
                .warnings
                .iter()
                .filter(|w| w.contains("the workload itself was not read"))
                .count(),
            1,
            "{:?}",
            snapshot.warnings
        );
    }

    // The text summary says the workload was not read.
    let out = run(pgadvise()
        .args(["scan", "--query", GIVEN_QUERY])
        .arg(&db.url));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("0 in pg_stat_statements (not read); 1 analyzed, 0 skipped"),
        "{stdout}"
    );

    // Without given statements the missing extension stays a hard error.
    let out = run(pgadvise().arg("scan").arg(&db.url));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[tokio::test]
async fn a_query_may_start_with_a_comment() {
    let db = TestDb::create("cli_comment").await;
    let c = db.client().await;
    c.batch_execute(ORDERS).await.unwrap();
    c.batch_execute("DROP EXTENSION pg_stat_statements")
        .await
        .unwrap();
    // As ORMs and sqlcommenter send them: the value is SQL, never a flag.
    for query in [
        format!("-- from the ORM\n{GIVEN_QUERY}"),
        format!("/* controller='orders',framework='django' */ {GIVEN_QUERY}"),
        format!("--\n/* a */ -- b\n{GIVEN_QUERY} -- trailing"),
    ] {
        let out = run(pgadvise()
            .args(["scan", "--format", "json", "--query"])
            .arg(&query)
            .arg(&db.url));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{query:?}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["statements_analyzed"], 1, "{query:?}: {report:#}");
        // Verified too: the comment travels into PREPARE intact.
        assert_orders_index(&report, db.has_hypopg);
        assert_eq!(report["indexes"][0]["queries"][0], query.as_str());
    }
    // `--query=...` and a flag after the value still work.
    let out = run(pgadvise()
        .arg("scan")
        .arg(format!("--query=-- x\n{GIVEN_QUERY}"))
        .args(["--format", "json", "--no-verify"])
        .arg(&db.url));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_orders_index(&report, false);
}

#[tokio::test]
async fn given_queries_need_no_preloaded_pg_stat_statements() {
    let cluster = LocalCluster::start(&ClusterOptions {
        without_pg_stat_statements: true,
        ..ClusterOptions::default()
    })
    .expect("a throwaway cluster without pg_stat_statements");
    let url = cluster.url("postgres");
    let c = support::connect(&url).await;
    c.batch_execute(ORDERS).await.unwrap();
    // Not created, then created but not loaded: the two ways it is missing.
    for step in ["", "CREATE EXTENSION pg_stat_statements"] {
        c.batch_execute(step).await.unwrap();
        let out = run(pgadvise()
            .args([
                "scan",
                "--no-verify",
                "--format",
                "json",
                "--query",
                GIVEN_QUERY,
            ])
            .arg(&url));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{step}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_orders_index(&report, false);
        assert_eq!(
            stderr.matches("the workload itself was not read").count(),
            1,
            "{step}: {stderr}"
        );
        assert!(
            stderr.contains("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';"),
            "{step}: {stderr}"
        );
        // Without given statements: exit 4, as before.
        let out = run(pgadvise().arg("scan").arg(&url));
        assert_eq!(out.status.code(), Some(4), "{step}: {}", text(&out.stderr));
    }
}

#[tokio::test]
async fn statements_below_min_calls_are_counted_and_named() {
    let db = TestDb::create("cli_mincalls").await;
    let c = db.client().await;
    c.batch_execute(ORDERS).await.unwrap();
    db.reset_statements(&c).await;
    // Each statement runs once: below the default --min-calls 2.
    for sql in [
        "SELECT id FROM orders WHERE customer_id = $1",
        "SELECT id FROM orders WHERE customer_id = $1 AND status = 'open'",
        "SELECT count(*) FROM orders WHERE customer_id = $1",
    ] {
        c.query(sql, &[&7i32]).await.unwrap();
    }
    let out = run(pgadvise()
        .args(["scan", "--no-verify", "--format", "json"])
        .arg(&db.url));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .contains("3 ran fewer than --min-calls 2 times (pass --min-calls 1 to include them)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("is a query pgadvise can analyze"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["statements_analyzed"], 0, "{report:#}");
    assert_eq!(report["indexes"], serde_json::json!([]), "{report:#}");
    let reasons = report["statements_skipped_by_reason"].as_array().unwrap();
    assert!(
        reasons.contains(&serde_json::json!({ "reason": "below --min-calls", "count": 3 })),
        "{report:#}"
    );
    let counted: u64 = reasons.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(report["statements_skipped"], counted, "{report:#}");
    let out = run(pgadvise().args(["scan", "--no-verify"]).arg(&db.url));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 below --min-calls"), "{stdout}");

    // With --min-calls 1 they are analyzed, and the index follows.
    let out = run(pgadvise()
        .args([
            "scan",
            "--no-verify",
            "--format",
            "json",
            "--min-calls",
            "1",
        ])
        .arg(&db.url));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("none of"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["statements_analyzed"].as_u64().unwrap() >= 3,
        "{report:#}"
    );
    assert_orders_index(&report, false);
    let reasons = report["statements_skipped_by_reason"].as_array().unwrap();
    assert!(
        reasons.iter().all(|r| r["reason"] != "below --min-calls"),
        "{report:#}"
    );
}
