//! The external tools the migration tests run for real: psql, squawk and the
//! frameworks' own migrators (ActiveRecord, Django, Alembic), each found on
//! PATH or a loud failure naming the command that installs it (scripts/setup
//! installs them all), and the folders and projects those tools need.

use super::{pgadvise, TestDb};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tool the test needs, found on PATH (or the given fallbacks), else a loud failure.
pub fn tool(name: &str, fallbacks: &[&str], install: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "\n\n{name} is needed by this test and is not installed.\nInstall it: scripts/setup (or: {install})\n"
            )
        })
}

pub fn psql() -> PathBuf {
    tool(
        "psql",
        &["/usr/lib/postgresql/15/bin/psql"],
        "apt-get install postgresql-client",
    )
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Exit code, stdout and stderr, for an assertion's message.
pub fn described(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `scan --out` in `format`. Without hypopg (the version matrix) proposals
/// stay unverified, and only `--no-verify` writes their migrations.
pub fn scan_out(db: &TestDb, dir: &Path, format: &str, extra: &[&str]) -> Output {
    let unverified: &[&str] = if db.has_hypopg { &[] } else { &["--no-verify"] };
    let out = run(pgadvise()
        .args(["scan", "--quiet", "--out"])
        .arg(dir)
        .args(["--migration-format", format])
        .args(unverified)
        .args(extra)
        .arg(&db.url));
    assert_eq!(
        out.status.code(),
        Some(0),
        "scan --out: {}",
        described(&out)
    );
    out
}

/// `pgadvise verify` of a `scan --out` folder.
pub fn verify(dir: &Path, url: &str, extra: &[&str]) -> Output {
    run(pgadvise().arg("verify").arg(dir).arg(url).args(extra))
}

/// The file names of `dir`, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The files of `dir` whose name ends with `suffix`, sorted.
pub fn with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .map(|n| dir.join(n))
        .collect()
}

/// squawk on every migration file (not the verification plans): no violation.
pub fn assert_squawk_clean(migration_files: &[PathBuf]) {
    assert!(!migration_files.is_empty());
    let squawk = tool("squawk", &[], "npm install -g squawk-cli@2.66.0");
    let out = run(Command::new(squawk).args(migration_files));
    assert!(
        out.status.success(),
        "squawk found violations in {migration_files:?}:\n{}",
        described(&out)
    );
}

pub fn psql_file(url: &str, path: &Path) -> Output {
    run(Command::new(psql())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(path))
}

/// Runs each file through psql in order, each required to succeed;
/// `context` leads the failure message.
pub fn psql_each(url: &str, paths: &[PathBuf], context: &str) {
    for path in paths {
        let out = psql_file(url, path);
        assert!(
            out.status.success(),
            "{context}{}: {}",
            path.display(),
            described(&out)
        );
    }
}

/// One statement through psql; its unaligned, tuples-only output.
pub fn psql_command(url: &str, sql: &str) -> String {
    let out = run(Command::new(psql()).args([
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        url,
        "-c",
        sql,
    ]));
    assert!(out.status.success(), "psql -c {sql}: {}", described(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// (name, valid) of the indexes on `table` other than its primary key.
pub fn indexes(url: &str, table: &str) -> Vec<(String, bool)> {
    index_definitions(url, table)
        .into_iter()
        .map(|i| (i.name, i.valid))
        .collect()
}

/// An index as the catalog has it.
#[derive(Debug, Clone)]
pub struct BuiltIndex {
    pub name: String,
    pub valid: bool,
    /// `pg_get_indexdef`: `CREATE INDEX n ON public.t USING gin (c jsonb_path_ops)`.
    pub definition: String,
}

/// The indexes on `table` other than its primary key, by name.
pub fn index_definitions(url: &str, table: &str) -> Vec<BuiltIndex> {
    let listing = psql_command(
        url,
        &format!(
            "SELECT c.relname || '|' || i.indisvalid || '|' || pg_get_indexdef(i.indexrelid) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = 'public.{table}'::regclass AND NOT i.indisprimary ORDER BY 1"
        ),
    );
    listing
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '|');
            Some(BuiltIndex {
                name: parts.next()?.to_string(),
                valid: parts.next()? == "true",
                definition: parts.next()?.to_string(),
            })
        })
        .collect()
}

/// python3 with the given modules importable, else a loud failure.
pub fn python_with(modules: &str, what: &str, install: &str) -> PathBuf {
    let python = tool("python3", &[], "apt-get install python3");
    let probe = run(Command::new(&python).args(["-c", &format!("import {modules}")]));
    assert!(
        probe.status.success(),
        "\n\n{what} is needed by this test.\nInstall it: scripts/setup (or: {install})\n{}",
        described(&probe)
    );
    python
}

/// (user, host, port, database) of a `postgresql://user@host:port/db` URL.
fn url_parts(url: &str) -> (&str, &str, &str, &str) {
    let rest = url.trim_start_matches("postgresql://");
    let (user, rest) = rest.split_once('@').expect("user@ in the test URL");
    let (hostport, name) = rest.split_once('/').expect("/database in the test URL");
    let (host, port) = hostport
        .rsplit_once(':')
        .expect("host:port in the test URL");
    (user, host, port, name.split('?').next().unwrap_or(name))
}

/// A minimal Alembic project (PyPI `alembic`, `psycopg2-binary`) holding
/// the generated revisions, chained as their header asks (down_revision).
pub struct AlembicProject {
    python: PathBuf,
    dir: PathBuf,
}

impl AlembicProject {
    pub fn new(root: &Path, url: &str, revisions: &[PathBuf]) -> AlembicProject {
        let python = python_with(
            "alembic, psycopg2",
            "alembic",
            "python3 -m pip install alembic psycopg2-binary",
        );
        let dir = root.join("alembic-project");
        let versions = dir.join("alembic").join("versions");
        std::fs::create_dir_all(&versions).unwrap();
        let url = url.replacen("postgresql://", "postgresql+psycopg2://", 1);
        std::fs::write(
            dir.join("alembic.ini"),
            format!("[alembic]\nscript_location = alembic\nsqlalchemy.url = {url}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("alembic").join("env.py"),
            "from alembic import context\n\
             from sqlalchemy import engine_from_config, pool\n\
             config = context.config\n\
             engine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)\n\
             with engine.connect() as connection:\n\
             \x20   context.configure(connection=connection, target_metadata=None)\n\
             \x20   with context.begin_transaction():\n\
             \x20       context.run_migrations()\n",
        )
        .unwrap();
        // Each revises the one before, as the header says to.
        let mut previous: Option<String> = None;
        for path in revisions {
            let mut source = std::fs::read_to_string(path).unwrap();
            let revision = source
                .lines()
                .find_map(|l| l.strip_prefix("revision = "))
                .unwrap_or_else(|| panic!("{} has no revision:\n{source}", path.display()))
                .to_string();
            if let Some(prev) = &previous {
                source = source.replace("down_revision = None", &format!("down_revision = {prev}"));
            }
            previous = Some(revision);
            std::fs::write(versions.join(path.file_name().unwrap()), source).unwrap();
        }
        AlembicProject { python, dir }
    }

    /// `python -m alembic ARGS`, which must succeed.
    pub fn run(&self, args: &[&str]) {
        let out = run(Command::new(&self.python)
            .args(["-m", "alembic"])
            .args(args)
            .current_dir(&self.dir));
        assert!(
            out.status.success(),
            "alembic {args:?}: {}",
            described(&out)
        );
    }
}

/// A minimal Django project (PyPI `django`, `psycopg2-binary`) with one app
/// whose models map existing tables: its initial migration is faked (the
/// tables exist), the generated migrations are added after it.
pub struct DjangoProject {
    python: PathBuf,
    dir: PathBuf,
    app: String,
    latest: String,
}

impl DjangoProject {
    /// `models` is the app's models.py.
    pub fn new(root: &Path, url: &str, app: &str, models: &str) -> DjangoProject {
        let python = python_with(
            "django, psycopg2",
            "Django",
            "python3 -m pip install django psycopg2-binary",
        );
        let (user, host, port, name) = url_parts(url);
        let dir = root.join("django-project");
        let app_dir = dir.join(app);
        std::fs::create_dir_all(app_dir.join("migrations")).unwrap();
        std::fs::write(
            dir.join("settings.py"),
            format!(
                "SECRET_KEY = 'test'\nUSE_TZ = True\nDEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'\n\
                 INSTALLED_APPS = ['django.contrib.postgres', '{app}']\n\
                 DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': '{name}', \
                 'USER': '{user}', 'HOST': '{host}', 'PORT': '{port}'}}}}\n"
            ),
        )
        .unwrap();
        std::fs::write(app_dir.join("__init__.py"), "").unwrap();
        std::fs::write(app_dir.join("migrations").join("__init__.py"), "").unwrap();
        std::fs::write(app_dir.join("models.py"), models).unwrap();
        let project = DjangoProject {
            python,
            dir,
            app: app.to_string(),
            latest: "0001_initial".to_string(),
        };
        project.run(&["makemigrations", app, "--name", "initial"]);
        project.run(&["migrate", app, "0001", "--fake"]);
        project
    }

    /// Adds the generated migrations, each depending on the one before, as
    /// their header says to.
    pub fn add(&mut self, generated: &[PathBuf]) {
        for path in generated {
            let source = std::fs::read_to_string(path).unwrap().replace(
                "dependencies = []",
                &format!("dependencies = [('{}', '{}')]", self.app, self.latest),
            );
            let file = path.file_name().unwrap();
            std::fs::write(
                self.dir.join(&self.app).join("migrations").join(file),
                source,
            )
            .unwrap();
            self.latest = path.file_stem().unwrap().to_string_lossy().into_owned();
        }
    }

    /// `python -m django ARGS`, which must succeed; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = run(Command::new(&self.python)
            .args(["-m", "django"])
            .args(args)
            .env("DJANGO_SETTINGS_MODULE", "settings")
            .env("PYTHONPATH", &self.dir)
            .current_dir(&self.dir));
        assert!(out.status.success(), "django {args:?}: {}", described(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Replaces the app's models.py.
    pub fn set_models(&self, models: &str) {
        std::fs::write(self.dir.join(&self.app).join("models.py"), models).unwrap();
    }

    /// What `makemigrations --check --dry-run` would write for the app
    /// (the models differ from the migrations' state), or `None`.
    pub fn pending_changes(&self) -> Option<String> {
        let out = run(Command::new(&self.python)
            .args([
                "-m",
                "django",
                "makemigrations",
                "--check",
                "--dry-run",
                &self.app,
            ])
            .env("DJANGO_SETTINGS_MODULE", "settings")
            .env("PYTHONPATH", &self.dir)
            .current_dir(&self.dir));
        match out.status.code() {
            Some(0) => None,
            Some(1) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
            _ => panic!("django makemigrations --check: {}", described(&out)),
        }
    }

    /// Migrates the app forwards to its latest migration.
    pub fn migrate(&self) {
        self.run(&["migrate", &self.app]);
    }

    /// Migrates the app back to its faked initial migration.
    pub fn migrate_back_to_initial(&self) {
        self.run(&["migrate", &self.app, "0001"]);
    }
}

/// ActiveRecord's migrator (Debian's ruby-activerecord, ruby-pg) on a
/// folder of Rails migrations.
pub struct RailsMigrations {
    ruby: PathBuf,
    dir: PathBuf,
}

impl RailsMigrations {
    /// A db/migrate folder under `root` holding copies of `generated`.
    pub fn new(root: &Path, generated: &[PathBuf]) -> RailsMigrations {
        let ruby = tool("ruby", &[], "apt-get install ruby-activerecord ruby-pg");
        let probe = run(Command::new(&ruby).args(["-e", "require 'active_record'; require 'pg'"]));
        assert!(
            probe.status.success(),
            "\n\nActiveRecord is needed by this test.\nInstall it: scripts/setup (or: apt-get install ruby-activerecord ruby-pg)\n{}",
            described(&probe)
        );
        let dir = root.join("db_migrate");
        std::fs::create_dir_all(&dir).unwrap();
        for path in generated {
            std::fs::copy(path, dir.join(path.file_name().unwrap())).unwrap();
        }
        RailsMigrations { ruby, dir }
    }

    /// Every migration up, or all of them down.
    pub fn migrate(&self, url: &str, up: bool) {
        // ActiveRecord 6.1's MigrationContext takes the schema_migrations model; 7+ defaults it.
        let script = "require 'active_record'\n\
            ActiveRecord::Base.establish_connection(ARGV[0])\n\
            ActiveRecord::Migration.verbose = false\n\
            args = [ARGV[1]]\n\
            args << ActiveRecord::SchemaMigration if ActiveRecord::VERSION::MAJOR < 7\n\
            context = ActiveRecord::MigrationContext.new(*args)\n\
            ARGV[2] == 'up' ? context.migrate : context.migrate(0)\n";
        let direction = if up { "up" } else { "down" };
        let out = run(Command::new(&self.ruby)
            .args(["-e", script, url])
            .arg(&self.dir)
            .arg(direction));
        assert!(
            out.status.success(),
            "rails migrate {direction}: {}",
            described(&out)
        );
    }
}
