//! Migrations as a team ships them: `pgadvise scan --out` on the scenarios,
//! the files applied for real (psql for the `sql` format, dbmate and sqlx-cli
//! for theirs), then `pgadvise verify` green; run twice, after a failed build,
//! and rolled back, each behaving as the header says; squawk finds nothing.
//!
//! The external tools are required, never skipped: a missing one fails with
//! the command that installs it (scripts/setup installs them all).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::pgadvise;
use support::scenarios;
use support::tools::{
    assert_squawk_clean, described, files, indexes, psql, psql_command, psql_each, psql_file, run,
    scan_out, tool, verify, with_suffix, AlembicProject, DjangoProject, RailsMigrations,
};

/// The index name a migration file creates (`... IF NOT EXISTS <name> ON ...`).
fn created_index(path: &Path) -> String {
    let sql = std::fs::read_to_string(path).unwrap();
    let after = sql
        .split("CREATE INDEX CONCURRENTLY IF NOT EXISTS ")
        .nth(1)
        .unwrap_or_else(|| panic!("{} creates no index:\n{sql}", path.display()));
    after.split_whitespace().next().unwrap().to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn sql_format_with_psql_reruns_failed_builds_and_rollbacks() {
    let s1 = scenarios::s1_soft_deleted_feed().await;
    let url = &s1.db.url;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations-out");
    scan_out(&s1.db, &dir, "sql", &[]);

    // One migration per expected index: up, down, and the verification plan.
    let ups: Vec<PathBuf> = with_suffix(&dir, ".sql")
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            !n.ends_with(".down.sql") && !n.ends_with(".verify.sql")
        })
        .collect();
    let downs = with_suffix(&dir, ".down.sql");
    assert_eq!(ups.len(), 3, "{:?}", files(&dir));
    assert_eq!(downs.len(), 3);
    assert_eq!(with_suffix(&dir, ".verify.json").len(), 3);
    assert_eq!(with_suffix(&dir, ".verify.sql").len(), 3);
    for up in &ups {
        let sql = std::fs::read_to_string(up).unwrap();
        let name = up.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.len() > 15
                && name[..14].bytes().all(|b| b.is_ascii_digit())
                && name[14..].starts_with("_add_"),
            "{name}"
        );
        for needle in [
            "-- pgadvise-migration: add_index public.",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ",
            "WHERE deleted_at IS NULL",
            "SET lock_timeout = '5s';",
            "SET statement_timeout = 0;",
            "calls",
            if s1.db.has_hypopg {
                "Estimated cost (generic plans, hypopg):"
            } else {
                "Not verified with hypopg"
            },
            "Estimated size:",
            "Write cost:",
            "AND NOT indisvalid",
            "DROP INDEX CONCURRENTLY IF EXISTS public.",
        ] {
            assert!(sql.contains(needle), "{name} lacks {needle}:\n{sql}");
        }
        assert!(!sql.contains("BEGIN"), "{name} must not open a transaction");
    }
    let mut migration_files = ups.clone();
    migration_files.extend(downs.iter().cloned());
    assert_squawk_clean(&migration_files);

    // Before deploying, verify fails: the indexes are missing.
    let before = verify(&dir, url, &[]);
    assert_eq!(before.status.code(), Some(1), "{}", described(&before));
    assert!(String::from_utf8_lossy(&before.stdout).contains("MISSING"));

    // Applied with psql, twice: the second run changes nothing.
    for round in 0..2 {
        psql_each(url, &ups, &format!("round {round}, "));
    }
    let messages = indexes(url, "messages");
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.iter().all(|(_, valid)| *valid), "{messages:?}");
    assert_eq!(indexes(url, "content").len(), 1);

    let green = verify(&dir, url, &[]);
    let report = String::from_utf8_lossy(&green.stdout).into_owned();
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert_eq!(report.matches("PASS").count(), 3, "{report}");
    assert!(report.contains("3 passed, 0 failed"), "{report}");
    assert!(report.contains("Index Scan"), "{report}");
    // The psql form of the plan runs too, and shows the same scans.
    for plan in with_suffix(&dir, ".verify.sql") {
        let out = run(Command::new(psql())
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
            .arg(&plan));
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}: {}",
            plan.display(),
            described(&out)
        );
        let index = plan
            .file_name()
            .unwrap()
            .to_string_lossy()
            .split("_add_")
            .nth(1)
            .unwrap()
            .trim_end_matches(".verify.sql")
            .to_string();
        assert!(
            shown.contains(&format!("Index Scan using {index}")),
            "{shown}"
        );
        assert!(
            shown
                .lines()
                .any(|l| l.contains(&index) && l.ends_with("| t     | t")),
            "valid and ready: {shown}"
        );
    }

    // --analyze runs the SELECTs with values from pg_stats, read-only.
    let analyzed = verify(&dir, url, &["--analyze"]);
    let analyzed_report = String::from_utf8_lossy(&analyzed.stdout).into_owned();
    assert_eq!(analyzed.status.code(), Some(0), "{}", described(&analyzed));
    assert_eq!(
        analyzed_report.matches("EXPLAIN ANALYZE: ").count(),
        3,
        "{analyzed_report}"
    );
    assert!(analyzed_report.contains("mean before (pg_stat_statements)"));
    assert!(analyzed_report.contains("$2 = 100"), "{analyzed_report}");

    // With the indexes in place the advisor proposes nothing new: the folder stays as it is.
    let no_verify: &[&str] = if s1.db.has_hypopg {
        &[]
    } else {
        &["--no-verify"]
    };
    let before_files = files(&dir);
    let again = run(pgadvise()
        .args(["scan", "--out"])
        .arg(&dir)
        .args(no_verify)
        .arg(url));
    assert_eq!(again.status.code(), Some(0), "{}", described(&again));
    assert_eq!(files(&dir), before_files);

    // A failed build: the index left INVALID, the migration then "succeeds"
    // without building it (IF NOT EXISTS), verify fails with the fix, and the
    // header's recovery (drop, run again) makes it green.
    let target = ups[0].clone();
    let name = created_index(&target);
    psql_command(url, &format!("DROP INDEX CONCURRENTLY {name}"));
    let failed = run(Command::new(psql()).args([
        "-X",
        "-q",
        "-d",
        url,
        "-c",
        &format!("CREATE UNIQUE INDEX CONCURRENTLY {name} ON messages ((deleted_at IS NULL))"),
    ]));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("could not create unique index"),
        "{}",
        described(&failed)
    );
    let rerun = psql_file(url, &target);
    assert!(rerun.status.success(), "{}", described(&rerun));
    let red = verify(&dir, url, &[]);
    let red_report = String::from_utf8_lossy(&red.stdout).into_owned();
    assert_eq!(red.status.code(), Some(1), "{}", described(&red));
    assert!(red_report.contains("INVALID"), "{red_report}");
    let fix = format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name};");
    assert!(red_report.contains(&fix), "{red_report}");
    let header = std::fs::read_to_string(&target).unwrap();
    assert!(
        header.contains(&fix),
        "the header names the same fix:\n{header}"
    );
    psql_command(url, &fix);
    let rebuilt = psql_file(url, &target);
    assert!(rebuilt.status.success(), "{}", described(&rebuilt));
    let green_again = verify(&dir, url, &[]);
    assert_eq!(
        green_again.status.code(),
        Some(0),
        "{}",
        described(&green_again)
    );

    // Down migrations drop what the ups built; running them twice is fine too.
    for round in 0..2 {
        psql_each(url, &downs, &format!("round {round}, "));
    }
    assert!(indexes(url, "messages").is_empty());
    assert!(indexes(url, "content").is_empty());

    // With the indexes gone the advisor proposes them again; the folder already
    // holds them (whatever their timestamp), so nothing is duplicated, and
    // --force replaces them in place of the old files.
    let third = scan_out(&s1.db, &dir, "sql", &[]);
    assert_eq!(files(&dir), before_files, "{}", described(&third));
    assert!(String::from_utf8_lossy(&third.stderr).is_empty());
    let kept = run(pgadvise()
        .args(["scan", "--out"])
        .arg(&dir)
        .args(no_verify)
        .arg(url));
    assert!(
        String::from_utf8_lossy(&kept.stderr).contains("already in"),
        "{}",
        described(&kept)
    );
    let forced = run(pgadvise()
        .args(["scan", "--force", "--out"])
        .arg(&dir)
        .args(no_verify)
        .arg(url));
    assert_eq!(forced.status.code(), Some(0), "{}", described(&forced));
    assert_eq!(
        with_suffix(&dir, ".verify.json").len(),
        3,
        "{:?}",
        files(&dir)
    );
    assert_eq!(with_suffix(&dir, ".down.sql").len(), 3, "{:?}", files(&dir));
}

#[tokio::test(flavor = "current_thread")]
async fn dbmate_applies_its_format_and_verify_passes() {
    let dbmate = tool("dbmate", &[], "npm install -g dbmate@2.36.0");
    let s2 = scenarios::s2_transactional_outbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db").join("migrations");
    scan_out(&s2.db, &dir, "dbmate", &[]);
    let migrations: Vec<PathBuf> = with_suffix(&dir, ".sql");
    assert_eq!(migrations.len(), 2, "{:?}", files(&dir));
    assert_eq!(with_suffix(&dir, ".verify.psql").len(), 2);
    for m in &migrations {
        let sql = std::fs::read_to_string(m).unwrap();
        assert!(
            sql.contains(
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "
            ),
            "{sql}"
        );
        assert!(
            sql.contains("-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS "),
            "{sql}"
        );
        // One message per section: no SET beside CONCURRENTLY; the header says where the timeout comes from.
        assert!(!sql.contains("\nSET "), "{sql}");
        assert!(
            sql.contains("options='-c lock_timeout=5s -c statement_timeout=0'"),
            "{sql}"
        );
    }
    assert_squawk_clean(&migrations);

    // The timeouts through the connection, as the header says.
    let url = format!(
        "{}?sslmode=disable&options=-c%20lock_timeout%3D5s%20-c%20statement_timeout%3D0",
        s2.db.url
    );
    let dbmate_run = |args: &[&str]| {
        run(Command::new(&dbmate)
            .args(["--no-dump-schema", "--migrations-dir"])
            .arg(&dir)
            .args(["--url", &url])
            .args(args))
    };
    let up = dbmate_run(&["up"]);
    assert!(up.status.success(), "dbmate up: {}", described(&up));
    let green = verify(&dir, &s2.db.url, &[]);
    let report = String::from_utf8_lossy(&green.stdout).into_owned();
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert!(report.contains("0 failed"), "{report}");
    assert!(indexes(&s2.db.url, "outbox_events").iter().all(|(_, v)| *v));
    assert_eq!(indexes(&s2.db.url, "processed_messages").len(), 1);

    // --analyze refuses the row-locking SELECT and says why.
    let analyzed = verify(&dir, &s2.db.url, &["--analyze"]);
    let analyzed_report = String::from_utf8_lossy(&analyzed.stdout).into_owned();
    assert_eq!(analyzed.status.code(), Some(0), "{}", described(&analyzed));
    assert!(analyzed_report.contains("row-locking"), "{analyzed_report}");

    // Rolled back one by one with dbmate, then up again.
    for _ in 0..2 {
        let down = dbmate_run(&["rollback"]);
        assert!(
            down.status.success(),
            "dbmate rollback: {}",
            described(&down)
        );
    }
    assert!(indexes(&s2.db.url, "processed_messages").is_empty());
    let up_again = dbmate_run(&["up"]);
    assert!(up_again.status.success(), "{}", described(&up_again));
    assert_eq!(verify(&dir, &s2.db.url, &[]).status.code(), Some(0));
}

#[tokio::test(flavor = "current_thread")]
async fn sqlx_applies_its_format_and_verify_passes() {
    let sqlx = tool(
        "sqlx",
        &[],
        "cargo install sqlx-cli@0.9.0 --no-default-features --features rustls,postgres",
    );
    let s3 = scenarios::s3_archive_export().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    scan_out(&s3.db, &dir, "sqlx", &[]);
    let ups = with_suffix(&dir, ".up.sql");
    let downs = with_suffix(&dir, ".down.sql");
    assert_eq!(ups.len(), 1, "{:?}", files(&dir));
    assert_eq!(downs.len(), 1);
    for f in ups.iter().chain(&downs) {
        let sql = std::fs::read_to_string(f).unwrap();
        assert!(sql.starts_with("-- no-transaction\n"), "{sql}");
        assert!(!sql.contains("\nSET "), "{sql}");
    }
    let mut all = ups.clone();
    all.extend(downs.iter().cloned());
    assert_squawk_clean(&all);

    let url = format!(
        "{}?sslmode=disable&options=-c%20lock_timeout%3D5s%20-c%20statement_timeout%3D0",
        s3.db.url
    );
    let sqlx_run = |args: &[&str]| {
        run(Command::new(&sqlx)
            .args(["migrate"])
            .args(args)
            .arg("--source")
            .arg(&dir)
            .args(["--database-url", &url]))
    };
    let up = sqlx_run(&["run"]);
    assert!(up.status.success(), "sqlx migrate run: {}", described(&up));
    let again = sqlx_run(&["run"]);
    assert!(again.status.success(), "{}", described(&again));
    let green = verify(&dir, &s3.db.url, &[]);
    let report = String::from_utf8_lossy(&green.stdout).into_owned();
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    // The index serves the page, the batch delete's subquery and the count.
    assert!(report.contains("0 failed"), "{report}");
    assert_eq!(indexes(&s3.db.url, "traffic_events").len(), 1);
    // The same as JSON, for CI.
    let json = verify(&dir, &s3.db.url, &["--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", described(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("verify JSON");
    assert_eq!(doc["passed"], true, "{doc}");
    assert_eq!(doc["indexes"][0]["state"], "ready", "{doc}");
    let outcomes: Vec<&str> = doc["indexes"][0]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["outcome"].as_str())
        .collect();
    assert!(outcomes.contains(&"pass"), "{doc}");
    assert!(!outcomes.contains(&"fail"), "{doc}");

    let revert = sqlx_run(&["revert"]);
    assert!(
        revert.status.success(),
        "sqlx migrate revert: {}",
        described(&revert)
    );
    assert!(indexes(&s3.db.url, "traffic_events").is_empty());
    assert_eq!(verify(&dir, &s3.db.url, &[]).status.code(), Some(1));
}

/// Offline (`--snapshot`): nothing is verified, so nothing is written unless
/// `--no-verify`; bad output folders and plan folders are clear errors.
#[tokio::test(flavor = "current_thread")]
async fn offline_scan_and_bad_folders() {
    let s3 = scenarios::s3_archive_export().await;
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("s3.json");
    let saved = run(pgadvise()
        .args(["snapshot", "--quiet", "-o"])
        .arg(&snapshot)
        .arg(&s3.db.url));
    assert!(saved.status.success(), "{}", described(&saved));

    let dir = tmp.path().join("out");
    let unverified = run(pgadvise()
        .args(["scan", "--snapshot"])
        .arg(&snapshot)
        .arg("--out")
        .arg(&dir));
    assert_eq!(
        unverified.status.code(),
        Some(0),
        "{}",
        described(&unverified)
    );
    assert!(
        String::from_utf8_lossy(&unverified.stderr)
            .contains("unverified index proposal(s) get no migration"),
        "{}",
        described(&unverified)
    );
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));

    let written = run(pgadvise()
        .args([
            "scan",
            "--no-verify",
            "--migration-format",
            "golang-migrate",
            "--migration-lock-timeout",
            "1500ms",
            "--snapshot",
        ])
        .arg(&snapshot)
        .arg("--out")
        .arg(&dir));
    assert_eq!(written.status.code(), Some(0), "{}", described(&written));
    let ups = with_suffix(&dir, ".up.sql");
    assert_eq!(ups.len(), 1, "{:?}", files(&dir));
    let up = std::fs::read_to_string(&ups[0]).unwrap();
    assert!(up.contains("Not verified with hypopg"), "{up}");
    assert!(
        up.contains("options='-c lock_timeout=1500ms -c statement_timeout=0'"),
        "{up}"
    );
    assert!(
        up.contains("ON public.traffic_events USING btree (event_date"),
        "{up}"
    );

    // --out naming a file: exit 6 (output), with the path.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let blocked = run(pgadvise()
        .args(["scan", "--no-verify", "--snapshot"])
        .arg(&snapshot)
        .arg("--out")
        .arg(&file));
    assert_eq!(blocked.status.code(), Some(6), "{}", described(&blocked));
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("a-file"));

    // verify on a folder without plans, or none at all: exit 2 and what to do.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for folder in [&empty, &tmp.path().join("missing")] {
        let out = verify(folder, &s3.db.url, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", described(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pgadvise: error:"), "{stderr}");
        assert!(stderr.contains("pgadvise scan --out"), "{stderr}");
    }
    // A plan that is not JSON: exit 2 naming the file.
    std::fs::write(empty.join("x.verify.json"), "not json").unwrap();
    let bad = verify(&empty, &s3.db.url, &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", described(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("x.verify.json"));
}

/// Alembic (PyPI `alembic`, `psycopg2-binary`): the generated revisions,
/// chained as their header asks (down_revision), upgraded and downgraded for
/// real; verify passes in between.
#[tokio::test(flavor = "current_thread")]
async fn alembic_applies_its_format_and_verify_passes() {
    let s1 = scenarios::s1_soft_deleted_feed().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    scan_out(&s1.db, &out, "alembic", &[]);
    let revisions = with_suffix(&out, ".py");
    assert_eq!(revisions.len(), 3, "{:?}", files(&out));
    let alembic = AlembicProject::new(tmp.path(), &s1.db.url, &revisions);
    alembic.run(&["upgrade", "head"]);
    let green = verify(&out, &s1.db.url, &[]);
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert_eq!(indexes(&s1.db.url, "messages").len(), 2);
    assert!(indexes(&s1.db.url, "messages").iter().all(|(_, v)| *v));
    alembic.run(&["downgrade", "base"]);
    assert!(indexes(&s1.db.url, "messages").is_empty());
    assert!(indexes(&s1.db.url, "content").is_empty());
}

/// Django (PyPI `django`): an app whose models map S1's tables, its
/// initial migration faked (the tables exist), then the generated
/// migrations, given their dependencies as the header asks, migrated
/// forwards and backwards for real.
#[tokio::test(flavor = "current_thread")]
async fn django_applies_its_format_and_verify_passes() {
    let s1 = scenarios::s1_soft_deleted_feed().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    scan_out(&s1.db, &out, "django", &[]);
    let generated = with_suffix(&out, ".py");
    assert_eq!(generated.len(), 3, "{:?}", files(&out));

    let fields = "    user_id = models.IntegerField()\n    body = models.TextField()\n    \
                  created_at = models.DateTimeField()\n    deleted_at = models.DateTimeField(null=True)\n";
    let models = format!(
        "from django.db import models\n\n\nclass Messages(models.Model):\n    \
         id = models.BigIntegerField(primary_key=True)\n    conversation_id = models.IntegerField()\n{fields}\n    \
         class Meta:\n        db_table = 'messages'\n\n\nclass Content(models.Model):\n    \
         id = models.BigIntegerField(primary_key=True)\n{fields}\n    \
         class Meta:\n        db_table = 'content'\n"
    );
    let mut django = DjangoProject::new(tmp.path(), &s1.db.url, "feed", &models);
    django.add(&generated);
    django.migrate();
    let green = verify(&out, &s1.db.url, &[]);
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert_eq!(indexes(&s1.db.url, "messages").len(), 2);
    assert_eq!(indexes(&s1.db.url, "content").len(), 1);
    django.migrate_back_to_initial();
    assert!(indexes(&s1.db.url, "messages").is_empty());
    assert!(indexes(&s1.db.url, "content").is_empty());
}

/// Rails (Debian's ruby-activerecord, ruby-pg): the generated migrations run
/// by ActiveRecord's migrator up and down for real.
#[tokio::test(flavor = "current_thread")]
async fn rails_applies_its_format_and_verify_passes() {
    let s2 = scenarios::s2_transactional_outbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    scan_out(&s2.db, &out, "rails", &[]);
    let generated = with_suffix(&out, ".rb");
    assert_eq!(generated.len(), 2, "{:?}", files(&out));
    let rails = RailsMigrations::new(tmp.path(), &generated);
    rails.migrate(&s2.db.url, true);
    let green = verify(&out, &s2.db.url, &[]);
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert_eq!(indexes(&s2.db.url, "processed_messages").len(), 1);
    assert!(indexes(&s2.db.url, "outbox_events").iter().all(|(_, v)| *v));
    rails.migrate(&s2.db.url, false);
    assert!(indexes(&s2.db.url, "processed_messages").is_empty());
    assert!(indexes(&s2.db.url, "outbox_events").is_empty());
}

/// Liquibase (npm `liquibase`, which ships Liquibase 4.28 and its PostgreSQL
/// driver; Java from Debian): each formatted-SQL changelog updated and rolled
/// back for real.
#[tokio::test(flavor = "current_thread")]
async fn liquibase_applies_its_format_and_verify_passes() {
    let npm = tool("npm", &[], "apt-get install npm");
    let root = run(Command::new(&npm).args(["root", "-g"]));
    let liquibase = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim())
        .join("liquibase/dist/liquibase/liquibase");
    assert!(
        liquibase.is_file(),
        "\n\nLiquibase is needed by this test.\nInstall it: scripts/setup (or: npm install -g liquibase@4.28.1, and a Java runtime: apt-get install default-jre-headless)\n"
    );
    tool("java", &[], "apt-get install default-jre-headless");
    let s3 = scenarios::s3_archive_export().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("changelogs");
    scan_out(&s3.db, &out, "liquibase", &[]);
    let changelogs = with_suffix(&out, ".sql");
    assert_eq!(changelogs.len(), 1, "{:?}", files(&out));
    assert_eq!(with_suffix(&out, ".verify.psql").len(), 1);
    assert_squawk_clean(&changelogs);

    // postgresql://user@host:port/db as JDBC.
    let rest = s3.db.url.trim_start_matches("postgresql://");
    let (user, hostdb) = rest.split_once('@').unwrap();
    let jdbc = format!("jdbc:postgresql://{hostdb}");
    let changelog = changelogs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let liquibase_run = |command: &[&str]| {
        let out = run(Command::new(&liquibase)
            .arg(format!("--changelog-file={changelog}"))
            .arg(format!("--search-path={}", out.display()))
            .arg(format!("--url={jdbc}"))
            .arg(format!("--username={user}"))
            .args(["--log-level=WARNING", "--show-banner=false"])
            .args(command)
            .current_dir(tmp.path()));
        assert!(
            out.status.success(),
            "liquibase {command:?}: {}",
            described(&out)
        );
    };
    liquibase_run(&["update"]);
    liquibase_run(&["update"]);
    let green = verify(&out, &s3.db.url, &[]);
    assert_eq!(green.status.code(), Some(0), "{}", described(&green));
    assert_eq!(indexes(&s3.db.url, "traffic_events").len(), 1);
    liquibase_run(&["rollback-count", "--count=1"]);
    assert!(indexes(&s3.db.url, "traffic_events").is_empty());
}
