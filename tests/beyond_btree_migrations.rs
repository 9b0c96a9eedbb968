//! Indexes beyond the btree as a team ships them: `pgadvise scan --out` in
//! the Rails, Django, Alembic and SQL formats on a database (collation
//! C.UTF-8, pg_trgm created) with one table per kind of index in [`KINDS`];
//! the files applied with the real tool (ActiveRecord's migrator,
//! `python -m django migrate`, `python -m alembic upgrade`, psql); then each
//! index exists, is valid, and has the method, operator class and expression
//! the catalog's `pg_get_indexdef` shows for the proposal; `pgadvise verify`
//! passes, so the planner reads each statement through its index; and the
//! down migrations remove them all.
//!
//! The external tools are required, never skipped: a missing one fails with
//! the command that installs it (scripts/setup installs them all).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::scenarios;
use support::tools::{
    assert_squawk_clean, described, files, index_definitions, psql_each, scan_out, verify,
    with_suffix, AlembicProject, DjangoProject, RailsMigrations,
};
use support::TestDb;

/// Rows of a table: enough that the planner reads a selective search
/// through the index once it exists, few enough that the builds are quick.
const ROWS: usize = 30_000;

/// One kind of index pgadvise proposes beyond a plain btree, on a table of its own.
struct Kind {
    table: &'static str,
    /// The table's columns besides `id bigint PRIMARY KEY`.
    columns: &'static str,
    /// The rows' values of those columns, for `g` in 1..=rows.
    values: &'static str,
    rows: usize,
    /// The statement the index is for, given with `--query`: some need their
    /// constants (a prefix pattern, a text search configuration), which
    /// pg_stat_statements would turn into `$n`.
    query: &'static str,
    /// How `pg_get_indexdef` ends: `USING method (keys)`.
    definition: &'static str,
    /// The Django model's fields besides its primary key.
    django_fields: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        table: "products",
        columns: "specs jsonb NOT NULL",
        values: "jsonb_build_object('sku', g, 'color', 'c' || g % 50)",
        query: "SELECT id FROM products WHERE specs @> $1::jsonb",
        definition: "USING gin (specs jsonb_path_ops)",
        rows: ROWS,
        django_fields: "specs = models.JSONField()",
    },
    Kind {
        table: "customers",
        columns: "name text NOT NULL",
        values: "'customer ' || md5(g::text)",
        query: "SELECT id FROM customers WHERE name ILIKE $1",
        definition: "USING gin (name gin_trgm_ops)",
        rows: ROWS,
        django_fields: "name = models.TextField()",
    },
    Kind {
        table: "posts",
        columns: "content text NOT NULL",
        values: "'post number w' || g || ' about topic t' || g % 300 || ' lorem ipsum'",
        query:
            "SELECT id FROM posts WHERE to_tsvector('simple', content) @@ to_tsquery('simple', $1)",
        definition: "USING gin (to_tsvector('simple'::regconfig, content))",
        rows: ROWS,
        django_fields: "content = models.TextField()",
    },
    Kind {
        table: "articles",
        columns: "labels text[] NOT NULL",
        values: "ARRAY['l' || g % 5000, 'm' || g % 777, 'all']",
        query: "SELECT id FROM articles WHERE labels && $1::text[]",
        definition: "USING gin (labels)",
        rows: ROWS,
        django_fields: "labels = ArrayField(models.TextField())",
    },
    // Under a collation that does not compare bytewise a plain btree cannot
    // serve a prefix LIKE; text_pattern_ops can.
    Kind {
        table: "accounts",
        columns: "login text NOT NULL",
        values: "CASE WHEN g % 1000 = 0 THEN 'admin' ELSE 'user' END || g",
        query: "SELECT id FROM accounts WHERE login LIKE 'adm%'",
        definition: "USING btree (login text_pattern_ops)",
        rows: ROWS,
        django_fields: "login = models.TextField()",
    },
    // ORDER BY distance: only a GiST index returns the nearest first.
    Kind {
        table: "people",
        columns: "name text NOT NULL",
        values: "'person ' || md5(g::text)",
        query: "SELECT id, name FROM people WHERE name % $1 ORDER BY name <-> $1 LIMIT 10",
        definition: "USING gist (name gist_trgm_ops)",
        rows: ROWS,
        django_fields: "name = models.TextField()",
    },
    // A range on the insertion time of an append-only log of 64 MB and
    // more (the BRIN threshold: wide rows reach it with few of them).
    Kind {
        table: "events",
        columns: "created_at timestamptz NOT NULL, payload text NOT NULL",
        values: "timestamptz '2025-01-01' + g * interval '1 minute', repeat('x', 900)",
        query: "SELECT id FROM events WHERE created_at BETWEEN $1::timestamptz AND $2::timestamptz",
        definition: "USING brin (created_at) WITH (pages_per_range='32')",
        rows: 70_000,
        django_fields: "created_at = models.DateTimeField()\n    payload = models.TextField()",
    },
];

/// A database of its own: collation C.UTF-8, pg_trgm, every kind's table loaded.
async fn search_database(prefix: &str) -> TestDb {
    let mut sql = String::from("CREATE EXTENSION IF NOT EXISTS pg_trgm;\n");
    for kind in KINDS {
        sql.push_str(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, {columns});\n\
             INSERT INTO {table} SELECT g, {values} FROM generate_series(1, {rows}) g;\n",
            table = kind.table,
            columns = kind.columns,
            values = kind.values,
            rows = kind.rows,
        ));
    }
    scenarios::load_collated(prefix, "C.UTF-8", &sql).await
}

/// `scan --out` in `format` with every kind's statement given: one migration
/// per kind in `dir`.
fn scan(db: &TestDb, dir: &Path, format: &str) {
    let mut given = Vec::new();
    for kind in KINDS {
        given.extend(["--query", kind.query]);
    }
    scan_out(db, dir, format, &given);
    assert_eq!(
        with_suffix(dir, ".verify.json").len(),
        KINDS.len(),
        "one migration per kind: {:?}",
        files(dir)
    );
}

/// Each table has exactly its proposed index, valid, as the kind defines it.
fn assert_built(db: &TestDb, format: &str) {
    for kind in KINDS {
        let built = index_definitions(&db.url, kind.table);
        assert_eq!(built.len(), 1, "{format}: {}: {built:?}", kind.table);
        let index = &built[0];
        assert!(index.valid, "{format}: {index:?}");
        assert!(
            index
                .definition
                .ends_with(&format!("ON public.{} {}", kind.table, kind.definition)),
            "{format}: {} expected ... {}",
            index.definition,
            kind.definition
        );
    }
}

/// `pgadvise verify` passes: every index valid and ready, every statement
/// planned through its index.
fn assert_verified(dir: &Path, db: &TestDb, format: &str) {
    let out = verify(dir, &db.url, &[]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{format}: {}", described(&out));
    assert!(
        report.contains(&format!("{} passed, 0 failed", KINDS.len())),
        "{format}: {report}"
    );
}

fn assert_removed(db: &TestDb, format: &str) {
    for kind in KINDS {
        let left = index_definitions(&db.url, kind.table);
        assert!(left.is_empty(), "{format}: {}: {left:?}", kind.table);
    }
}

/// Migrations written for `format` into a fresh folder, on a fresh database.
struct Written {
    db: TestDb,
    tmp: tempfile::TempDir,
    dir: PathBuf,
}

async fn written(format: &str) -> Written {
    let db = search_database(&format!("bbm_{}", format.replace('-', "_"))).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    scan(&db, &dir, format);
    Written { db, tmp, dir }
}

#[tokio::test(flavor = "current_thread")]
async fn rails_migrations_build_search_indexes_for_real() {
    let w = written("rails").await;
    let generated = with_suffix(&w.dir, ".rb");
    assert_eq!(generated.len(), KINDS.len(), "{:?}", files(&w.dir));
    let rails = RailsMigrations::new(w.tmp.path(), &generated);
    rails.migrate(&w.db.url, true);
    assert_built(&w.db, "rails");
    assert_verified(&w.dir, &w.db, "rails");
    rails.migrate(&w.db.url, false);
    assert_removed(&w.db, "rails");
}

/// The Django models of the kinds' tables; `indexes` holds, per table, the
/// entries of its `Meta.indexes`.
fn django_models(indexes: &BTreeMap<String, Vec<String>>) -> String {
    let mut models = String::from(
        "from django.contrib.postgres.fields import ArrayField\n\
         from django.contrib.postgres.indexes import BrinIndex, GinIndex, GistIndex\n\
         from django.db import models\n",
    );
    for kind in KINDS {
        // Django's model name is the table's; model_name in the migrations is it in lower case.
        let class = format!("{}{}", kind.table[..1].to_uppercase(), &kind.table[1..]);
        let meta_indexes = indexes
            .get(&format!("public.{}", kind.table))
            .map(|entries| format!("        indexes = [{}]\n", entries.join(", ")))
            .unwrap_or_default();
        models.push_str(&format!(
            "\n\nclass {class}(models.Model):\n    id = models.BigIntegerField(primary_key=True)\n    \
             {}\n\n    class Meta:\n        db_table = '{}'\n{meta_indexes}",
            kind.django_fields, kind.table
        ));
    }
    models
}

/// What the migrations' headers ask to add to each model's `Meta.indexes`,
/// by table: the line after "Meta.indexes of the model for <table>".
fn meta_indexes_asked(generated: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
    let mut asked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in generated {
        let source = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.split("Meta.indexes of the model for ").nth(1) else {
                continue;
            };
            let table = rest.split([' ', ',']).next().unwrap_or_default();
            let entry = lines[i + 1]
                .trim_start_matches('#')
                .trim()
                .trim_end_matches(',');
            asked
                .entry(table.to_string())
                .or_default()
                .push(entry.to_string());
        }
    }
    asked
}

#[tokio::test(flavor = "current_thread")]
async fn django_migrations_build_search_indexes_for_real() {
    let w = written("django").await;
    let generated = with_suffix(&w.dir, ".py");
    assert_eq!(generated.len(), KINDS.len(), "{:?}", files(&w.dir));
    let mut django = DjangoProject::new(
        w.tmp.path(),
        &w.db.url,
        "shop",
        &django_models(&BTreeMap::new()),
    );
    django.add(&generated);
    django.migrate();
    assert_built(&w.db, "django");
    assert_verified(&w.dir, &w.db, "django");

    // AddIndexConcurrently puts the index in Django's migration state:
    // models without it make the next makemigrations drop it, as the header
    // warns; with the entries the header gives, the models and the state agree.
    let asked = meta_indexes_asked(&generated);
    assert!(
        asked.contains_key("public.products"),
        "the headers name the Meta.indexes entries: {asked:?}"
    );
    let removals = django
        .pending_changes()
        .expect("models without the indexes differ");
    for index in asked.values().flatten() {
        let name = index.split("name=\"").nth(1).unwrap_or_default();
        let name = name.split('"').next().unwrap_or_default();
        assert!(removals.contains(name), "{name}: {removals}");
    }
    django.set_models(&django_models(&asked));
    assert_eq!(django.pending_changes(), None, "{asked:?}");

    django.migrate_back_to_initial();
    assert_removed(&w.db, "django");
}

#[tokio::test(flavor = "current_thread")]
async fn alembic_revisions_build_search_indexes_for_real() {
    let w = written("alembic").await;
    let revisions = with_suffix(&w.dir, ".py");
    assert_eq!(revisions.len(), KINDS.len(), "{:?}", files(&w.dir));
    let alembic = AlembicProject::new(w.tmp.path(), &w.db.url, &revisions);
    alembic.run(&["upgrade", "head"]);
    assert_built(&w.db, "alembic");
    assert_verified(&w.dir, &w.db, "alembic");
    alembic.run(&["downgrade", "base"]);
    assert_removed(&w.db, "alembic");
}

#[tokio::test(flavor = "current_thread")]
async fn sql_migrations_build_search_indexes_with_psql() {
    let w = written("sql").await;
    let downs = with_suffix(&w.dir, ".down.sql");
    let ups: Vec<PathBuf> = with_suffix(&w.dir, ".sql")
        .into_iter()
        .filter(|p| !downs.contains(p) && !p.to_string_lossy().ends_with(".verify.sql"))
        .collect();
    assert_eq!(ups.len(), KINDS.len(), "{:?}", files(&w.dir));
    assert_eq!(downs.len(), KINDS.len(), "{:?}", files(&w.dir));
    let mut all = ups.clone();
    all.extend(downs.iter().cloned());
    assert_squawk_clean(&all);
    psql_each(&w.db.url, &ups, "");
    assert_built(&w.db, "sql");
    assert_verified(&w.dir, &w.db, "sql");
    psql_each(&w.db.url, &downs, "");
    assert_removed(&w.db, "sql");
}
