//! Every migration format against committed golden files (tests/golden/),
//! from the advisor's own proposals on a hand-built snapshot shaped like the
//! scenarios (S1's feed, S2's outbox), plus a partitioned table and
//! identifiers that need quoting. The verification fields are filled in as
//! hypopg would; the timestamp is fixed.
//!
//! Regenerate after an intended change: `PGADVISE_UPDATE_GOLDEN=1 cargo test --test migration_formats`.
//!
//! Also: squawk finds nothing in any generated SQL migration, and the
//! partitioned table's migration is applied for real with psql.

mod support;

use pgadvise::analyze::indexes::{self, ExpectedPlan, HotStatements, IndexProposal, TableFilter};
use pgadvise::analyze::workload::Workload;
use pgadvise::emit::migrations::index::{index_migration, MigrationOptions};
use pgadvise::emit::migrations::{
    write_migrations, Migration, MigrationFormat, OutputFile, Timestamp,
};
use pgadvise::snapshot::*;
use pgadvise::verification_plan::VerificationPlan;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::fixture::{self, statement};

/// 2026-01-01 00:00:00 UTC.
const FIXED: Timestamp = Timestamp {
    unix_seconds: 1_767_225_600,
};

/// (name, data type, null_frac, n_distinct, avg_width)
type ColumnSpec<'a> = (&'a str, &'a str, f64, f64, i32);

fn table(schema: &str, name: &str, kind: TableKind, rows: f64, columns: &[ColumnSpec]) -> Table {
    Table {
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, (col, ty, null_frac, n_distinct, width))| Column {
                not_null: *null_frac == 0.0,
                stats: Some(ColumnStats {
                    null_frac: *null_frac,
                    avg_width: *width,
                    n_distinct: *n_distinct,
                    ..ColumnStats::default()
                }),
                ..fixture::column(i, col, ty)
            })
            .collect(),
        stats: Some(TableStats {
            seq_scan: 600,
            seq_tup_read: 30_000_000,
            idx_scan: Some(0),
            idx_tup_fetch: Some(0),
            n_tup_ins: rows as i64,
            n_tup_upd: 200,
            n_tup_hot_upd: 150,
            n_live_tup: rows as i64,
            analyze_count: 1,
            ..TableStats::default()
        }),
        ..fixture::table(schema, name, kind, rows)
    }
}

fn partition(parent: &Table, name: &str, bound: &str) -> Table {
    let mut t = parent.clone();
    t.name = name.into();
    t.kind = TableKind::Table;
    t.parent = Some(QualifiedName::new(&parent.schema, &parent.name));
    t.partition_bound = Some(bound.into());
    t.reltuples = parent.reltuples / 2.0;
    t
}

fn snapshot(tables: Vec<Table>, statements: Vec<Statement>) -> Snapshot {
    let mut snap = fixture::snapshot();
    snap.tables = tables;
    snap.statements.entries = statements;
    snap
}

/// The scenarios' shapes: S1's feed and S2's outbox, a partitioned event
/// log, and a table whose identifiers need quoting.
fn fixture() -> Snapshot {
    let messages = table(
        "public",
        "messages",
        TableKind::Table,
        50_000.0,
        &[
            ("id", "bigint", 0.0, -1.0, 8),
            ("conversation_id", "integer", 0.0, 500.0, 4),
            ("user_id", "integer", 0.0, 1000.0, 4),
            ("body", "text", 0.0, -1.0, 60),
            ("created_at", "timestamp with time zone", 0.0, -1.0, 8),
            ("deleted_at", "timestamp with time zone", 0.9, -0.1, 8),
        ],
    );
    let outbox = table(
        "public",
        "outbox_events",
        TableKind::Table,
        50_020.0,
        &[
            ("id", "bigint", 0.0, -1.0, 8),
            ("payload", "jsonb", 0.0, -1.0, 60),
            ("created_at", "timestamp with time zone", 0.0, -1.0, 8),
            ("published_at", "timestamp with time zone", 0.0004, -0.99, 8),
        ],
    );
    let events = table(
        "public",
        "events",
        TableKind::PartitionedTable,
        100_000.0,
        &[
            ("id", "bigint", 0.0, -1.0, 8),
            ("account_id", "bigint", 0.0, 5000.0, 8),
            ("created_at", "timestamp with time zone", 0.0, -1.0, 8),
        ],
    );
    let events_2025 = partition(
        &events,
        "events_2025",
        "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    );
    let events_2026 = partition(
        &events,
        "events_2026",
        "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
    );
    let orders = table(
        "Sales Dept",
        "Order",
        TableKind::Table,
        80_000.0,
        &[
            ("id", "bigint", 0.0, -1.0, 8),
            ("User Id", "bigint", 0.0, 4000.0, 8),
            ("select", "text", 0.0, 20.0, 8),
        ],
    );
    // Search indexes beyond the btree: GIN with an operator class on a
    // column, a trigram class of an extension the database lacks, and a
    // full-text expression.
    let products = table(
        "public",
        "products",
        TableKind::Table,
        100_000.0,
        &[
            ("id", "bigint", 0.0, -1.0, 8),
            ("specs", "jsonb", 0.0, -1.0, 80),
            ("name", "text", 0.0, -1.0, 40),
            ("description", "text", 0.0, -1.0, 300),
        ],
    );
    snapshot(
        vec![messages, outbox, events, events_2025, events_2026, orders, products],
        vec![
            statement(101, 200, 6.5, "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2"),
            statement(102, 200, 5.9, "SELECT * FROM messages WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2"),
            statement(201, 200, 4.1, "SELECT id, payload FROM outbox_events WHERE published_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED"),
            statement(301, 150, 9.0, "SELECT * FROM events WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2"),
            statement(401, 120, 3.0, "SELECT id FROM \"Sales Dept\".\"Order\" WHERE \"User Id\" = $1 AND \"select\" = $2"),
            statement(501, 30, 10.0, "SELECT id FROM products WHERE specs @> $1"),
            statement(502, 28, 10.0, "SELECT id FROM products WHERE name ILIKE $1"),
            statement(503, 26, 10.0, "SELECT id FROM products WHERE to_tsvector('english', description) @@ plainto_tsquery('english', $1)"),
        ],
    )
}

/// The advisor's proposals for the fixture, verified as hypopg would report.
fn proposals(snap: &Snapshot) -> Vec<IndexProposal> {
    let workload = Workload::from_snapshot(snap);
    let advice = indexes::propose(
        snap,
        &workload,
        &HotStatements::default(),
        &TableFilter::default(),
    );
    let mut proposals = advice.proposals;
    assert_eq!(proposals.len(), 8, "{proposals:#?}");
    // GIN proposals stay unverified (hypopg cannot build them), with their reason.
    let search = proposals
        .iter()
        .filter(|p| p.verification.is_some())
        .count();
    assert_eq!(search, 3, "{proposals:#?}");
    for (n, p) in proposals
        .iter_mut()
        .filter(|p| p.verification.is_none())
        .enumerate()
    {
        let before = 1500.0 + 100.0 * n as f64;
        let after = 12.5 + n as f64;
        p.verified = true;
        p.cost_before = Some(before);
        p.cost_after = Some(after);
        p.estimated_time_saved_ms = Some(p.workload_time_ms * 0.95);
        p.plans = p
            .queryids
            .iter()
            .zip(&p.queries)
            .map(|(id, q)| ExpectedPlan {
                queryid: *id,
                query: q.clone(),
                cost_before: before,
                cost_after: after,
                node: Some(
                    if q.contains("Sales Dept") {
                        "Bitmap Index Scan"
                    } else {
                        "Index Scan"
                    }
                    .to_string(),
                ),
            })
            .collect();
    }
    proposals
}

fn migrations(snap: &Snapshot) -> Vec<(Migration, Vec<OutputFile>)> {
    let mut taken: Vec<String> = snap.tables.iter().map(|t| t.name.clone()).collect();
    proposals(snap)
        .iter()
        .map(|p| {
            let (m, partitions) =
                index_migration(p, snap, &MigrationOptions::default(), &mut taken);
            let plan = VerificationPlan::new(&m, p, snap, &partitions);
            (m, plan.files())
        })
        .collect()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every file of `dir`, as `==> name <==` and its text.
fn listing(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            format!(
                "==> {n} <==\n{}",
                std::fs::read_to_string(dir.join(n)).unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn write(format: MigrationFormat) -> tempfile::TempDir {
    let snap = fixture();
    let tmp = tempfile::tempdir().unwrap();
    write_migrations(tmp.path(), format, &migrations(&snap), FIXED, false).expect("writing");
    tmp
}

#[test]
fn every_format_matches_its_golden_file() {
    let update = std::env::var_os("PGADVISE_UPDATE_GOLDEN").is_some();
    let mut mismatched = Vec::new();
    for format in MigrationFormat::ALL {
        let tmp = write(format);
        let actual = listing(tmp.path());
        let golden = golden_dir().join(format!("{}.txt", format.as_str()));
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (PGADVISE_UPDATE_GOLDEN=1 writes it)",
                golden.display()
            )
        });
        if actual != expected {
            let first = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            mismatched.push(format!(
                "{}: first difference at line {}:\n  actual:   {}\n  expected: {}",
                format.as_str(),
                first + 1,
                actual.lines().nth(first).unwrap_or(""),
                expected.lines().nth(first).unwrap_or("")
            ));
        }
    }
    assert!(
        mismatched.is_empty(),
        "{}\n(PGADVISE_UPDATE_GOLDEN=1 cargo test --test migration_formats regenerates after an intended change)",
        mismatched.join("\n")
    );
}

#[test]
fn names_are_deterministic_short_and_unique() {
    let snap = fixture();
    let all = migrations(&snap);
    let mut names: Vec<String> = Vec::new();
    for (m, _) in &all {
        for step in &m.up {
            if let pgadvise::emit::migrations::Step::CreateIndex(d) = step {
                assert!(d.name.len() <= 63, "{}", d.name);
                assert!(snap.tables.iter().all(|t| t.name != d.name));
                names.push(d.name.clone());
            }
        }
    }
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "{names:?}");
    let again: Vec<String> = migrations(&snap)
        .iter()
        .map(|(m, _)| m.id.clone())
        .collect();
    assert_eq!(
        again,
        all.iter().map(|(m, _)| m.id.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn squawk_passes_every_generated_sql_migration() {
    let squawk = support_tool("squawk", "npm install -g squawk-cli@2.66.0");
    for format in MigrationFormat::ALL {
        let tmp = write(format);
        let sql: Vec<PathBuf> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.to_string_lossy();
                n.ends_with(".sql") && !n.ends_with(".verify.sql")
            })
            .collect();
        if sql.is_empty() {
            continue; // Rails, Django, Alembic: no SQL file
        }
        let out = Command::new(&squawk).args(&sql).output().unwrap();
        assert!(
            out.status.success(),
            "{}: squawk:\n{}{}",
            format.as_str(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn support_tool(name: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "\n\n{name} is needed by this test.\nInstall it: scripts/setup (or: {install})\n"
            )
        })
}

/// The partitioned table's migration, applied with psql (and dbmate) on a real partitioned
/// table: parent index ON ONLY, each partition's built concurrently and
/// attached, the parent valid at the end; again is a no-op; down drops all.
#[tokio::test(flavor = "current_thread")]
async fn partitioned_migration_applies_with_psql_and_dbmate() {
    let db = support::TestDb::create("partitioned").await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE events (id bigint, account_id bigint NOT NULL, created_at timestamptz NOT NULL) \
               PARTITION BY RANGE (created_at);
             CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             INSERT INTO events SELECT g, g % 5000, timestamptz '2025-06-01' + g * interval '5 minutes'
               FROM generate_series(1, 100000) g;
             ANALYZE events;",
        )
        .await
        .unwrap();
    let tmp = write(MigrationFormat::Sql);
    let mut ups: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().contains("_add_events_")
                && p.to_string_lossy().ends_with("_idx.sql")
        })
        .collect();
    assert_eq!(ups.len(), 1, "{ups:?}");
    let up = ups.remove(0);
    let down = PathBuf::from(up.to_string_lossy().replace("_idx.sql", "_idx.down.sql"));
    let psql = ["/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("psql (scripts/setup --minimal, or: apt-get install postgresql-client)");
    let apply = |file: &Path| {
        let out = Command::new(&psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let state = || async {
        client
            .query(
                "SELECT c.relname::text, i.indisvalid, coalesce(p.relname::text, '') FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indexrelid \
                 LEFT JOIN pg_inherits h ON h.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = h.inhparent \
                 WHERE i.indrelid IN ('events'::regclass, 'events_2025'::regclass, 'events_2026'::regclass) \
                 ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1), r.get::<_, String>(2)))
            .collect::<Vec<_>>()
    };
    apply(&up);
    apply(&up);
    let built = state().await;
    assert_eq!(built.len(), 3, "{built:?}");
    assert!(built.iter().all(|(_, valid, _)| *valid), "{built:?}");
    let parent = built
        .iter()
        .find(|(_, _, p)| p.is_empty())
        .expect("the parent index")
        .0
        .clone();
    assert!(
        parent.starts_with("events_account_id_created_at"),
        "{built:?}"
    );
    assert_eq!(
        built.iter().filter(|(_, _, p)| *p == parent).count(),
        2,
        "{built:?}"
    );
    apply(&down);
    apply(&down);
    assert!(state().await.is_empty());

    // dbmate sends each file as one message: the partitioned migration is five
    // files of one statement each; up builds and attaches, rollbacks undo it.
    let dbmate = support_tool("dbmate", "npm install -g dbmate@2.36.0");
    let dbmate_dir = write(MigrationFormat::Dbmate);
    for f in std::fs::read_dir(dbmate_dir.path()).unwrap() {
        let path = f.unwrap().path();
        if !path.to_string_lossy().contains("_add_events_") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let parts = std::fs::read_dir(dbmate_dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert_eq!(parts, 5);
    let url = format!(
        "{}?sslmode=disable&options=-c%20lock_timeout%3D5s%20-c%20statement_timeout%3D0",
        db.url
    );
    let dbmate_run = |args: &[&str]| {
        let out = Command::new(&dbmate)
            .args(["--no-dump-schema", "--migrations-dir"])
            .arg(dbmate_dir.path())
            .args(["--url", &url])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dbmate {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    dbmate_run(&["up"]);
    let built = state().await;
    assert_eq!(built.len(), 3, "{built:?}");
    assert!(built.iter().all(|(_, valid, _)| *valid), "{built:?}");
    // verify: parent and partition indexes valid, the statement reads the partitions' indexes.
    let verified = Command::new(env!("CARGO_BIN_EXE_pgadvise"))
        .arg("verify")
        .arg(dbmate_dir.path())
        .arg(&db.url)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{report}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        report.contains("using events_2025_account_id_created_at_idx")
            || report.contains("using events_2026_account_id_created_at_idx"),
        "{report}"
    );

    for _ in 0..parts {
        dbmate_run(&["rollback"]);
    }
    assert!(state().await.is_empty());

    // A migration stopped half-way: the parent's index exists but a partition's
    // is not attached, so the parent stays INVALID and verify fails with the fix.
    client
        .batch_execute(
            "CREATE INDEX events_account_id_created_at_idx ON ONLY events (account_id, created_at DESC);
             CREATE INDEX events_2025_account_id_created_at_idx ON events_2025 (account_id, created_at DESC);",
        )
        .await
        .unwrap();
    let half = Command::new(env!("CARGO_BIN_EXE_pgadvise"))
        .arg("verify")
        .arg(dbmate_dir.path())
        .arg(&db.url)
        .output()
        .unwrap();
    let half_report = String::from_utf8_lossy(&half.stdout).into_owned();
    assert_eq!(half.status.code(), Some(1), "{half_report}");
    assert!(half_report.contains("index INVALID"), "{half_report}");
    assert!(
        half_report.contains("events_2026_account_id_created_at_idx (missing)"),
        "{half_report}"
    );
    // Running the migration again completes it.
    dbmate_run(&["up"]);
    let completed = Command::new(env!("CARGO_BIN_EXE_pgadvise"))
        .arg("verify")
        .arg(dbmate_dir.path())
        .arg(&db.url)
        .output()
        .unwrap();
    assert_eq!(
        completed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&completed.stdout)
    );
}

/// The Django and Alembic files are valid Python (byte-compiled by python3).
#[test]
fn python_migrations_compile() {
    let python = support_tool("python3", "apt-get install python3");
    for format in [MigrationFormat::Django, MigrationFormat::Alembic] {
        let tmp = write(format);
        let files: Vec<PathBuf> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "py"))
            .collect();
        assert_eq!(files.len(), 8, "{}", format.as_str());
        for file in files {
            let out = Command::new(&python)
                .args(["-m", "py_compile"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// GIN proposals in the frameworks' own words: Rails `using:`/`opclass:`,
/// Django's `GinIndex` with `opclasses`, Alembic's `postgresql_using`/
/// `postgresql_ops`; an expression key falls back to SQL. A trigram index
/// of an extension the database lacks says so in every format's header.
#[test]
fn search_indexes_use_each_frameworks_own_options() {
    let cases: &[(MigrationFormat, &[&str])] = &[
        (
            MigrationFormat::Rails,
            &[
                "add_index 'public.products', 'specs', name: 'products_specs_gin_idx', using: 'gin', opclass: { 'specs': 'jsonb_path_ops' }",
                "using: 'gin', opclass: { 'name': 'gin_trgm_ops' }",
                "add_index 'public.products', '(to_tsvector(\\'english\\', description))'",
            ],
        ),
        (
            MigrationFormat::Django,
            &[
                "from django.contrib.postgres.indexes import GinIndex",
                "index=GinIndex(fields=[\"specs\"], name=\"products_specs_gin_idx\", opclasses=[\"jsonb_path_ops\"])",
                "# Django: add this index to the Meta.indexes of the model for public.products (from django.contrib.postgres.indexes import GinIndex), or the next makemigrations writes its removal:\n#     GinIndex(fields=[\"specs\"], name=\"products_specs_gin_idx\", opclasses=[\"jsonb_path_ops\"]),\n",
                "migrations.RunSQL(sql=\"CREATE INDEX CONCURRENTLY IF NOT EXISTS products_to_tsvector_english_description_gin_idx ON public.products USING gin ((to_tsvector('english', description)))\"",
            ],
        ),
        (
            MigrationFormat::Alembic,
            &[
                "postgresql_using=\"gin\"",
                "postgresql_ops={\"specs\": \"jsonb_path_ops\"}",
                "postgresql_ops={\"name\": \"gin_trgm_ops\"}",
                "[sa.text(\"(to_tsvector('english', description))\")]",
            ],
        ),
        (
            MigrationFormat::Sql,
            &["USING gin (specs jsonb_path_ops)", "USING gin (name gin_trgm_ops)"],
        ),
    ];
    for (format, wanted) in cases {
        let text = listing(write(*format).path());
        for w in *wanted {
            assert!(text.contains(w), "{}: no {w:?} in\n{text}", format.as_str());
        }
    }
    for format in MigrationFormat::ALL {
        let text = listing(write(format).path());
        assert!(
            text.contains("Requires the pg_trgm extension"),
            "{}: the trigram migration names pg_trgm",
            format.as_str()
        );
        assert!(
            text.contains("Not verified before deployment: hypopg cannot simulate GIN"),
            "{}",
            format.as_str()
        );
    }
}
