//! The settings each command runs with: the command line and pgadvise.toml
//! merged once, here, before any work. Precedence (README, "pgadvise.toml"):
//! a flag typed on the command line, then the file, then the flag's default;
//! for the connection, the command line, then DATABASE_URL, then the file's
//! `database_url`, then the PG* variables (read later by `collect::conninfo`).

use crate::analyze::finding::Severity;
use crate::analyze::pool::DeclaredPool;
use crate::analyze::rule::RuleId;
use crate::cli::{
    AuditArgs, ConnectionArgs, DemoArgs, DiffArgs, DiffFormat, MigrationFormat, OutputFormat,
    ScanArgs, SnapshotArgs, VerifyArgs, VerifyFormat,
};
use crate::config::Config;
use crate::emit::audit::MissingIndexThresholds;
use crate::fleet::{FleetTarget, ListedTarget};
use std::path::PathBuf;
use std::time::Duration;

/// Default `--sample-window`.
pub const DEFAULT_SAMPLE_WINDOW: Duration = Duration::from_secs(10);

/// Where migrations are when neither `--out` nor `[migrations] dir` says.
const DEFAULT_MIGRATIONS_DIR: &str = "migrations-out";

/// Flags given on the command line (clap argument ids), which win over the
/// file even where they equal the flag's default.
#[derive(Debug, Clone, Default)]
pub struct Explicit(pub Vec<String>);

impl Explicit {
    /// The ids of every argument given on the command line, the subcommand's included.
    pub fn from_matches(matches: &clap::ArgMatches) -> Explicit {
        let mut ids = Vec::new();
        let mut current = Some(matches);
        while let Some(m) = current {
            for id in m.ids() {
                if m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine) {
                    ids.push(id.as_str().to_string());
                }
            }
            current = m.subcommand().map(|(_, sub)| sub);
        }
        Explicit(ids)
    }

    pub fn given(&self, id: &str) -> bool {
        self.0.iter().any(|i| i == id)
    }

    /// The command line's value when typed there, else the file's, else the default.
    fn pick<T>(&self, id: &str, command_line: T, file: Option<T>) -> T {
        if self.given(id) {
            command_line
        } else {
            file.unwrap_or(command_line)
        }
    }
}

/// `--quiet`, or `quiet = true` in the file.
pub fn quiet(command_line: bool, file: &Config) -> bool {
    command_line || file.quiet
}

/// The target and pgadvise's own limits on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// URL or conninfo; `None`: DATABASE_URL, then the PG* variables.
    pub target: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
}

impl Connection {
    /// The command line alone (`snapshot`, `verify`).
    pub fn from_args(args: &ConnectionArgs) -> Connection {
        Connection {
            target: args.explicit().map(str::to_string),
            connect_timeout: args.connect_timeout.map(|d| d.get()),
            statement_timeout: args.statement_timeout.get(),
            lock_timeout: args.lock_timeout.get(),
        }
    }
}

/// Which statements and tables the index advisor looks at, and what it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisor {
    pub top: usize,
    pub min_calls: i64,
    pub min_total_time: Option<Duration>,
    pub min_mean_time: Option<Duration>,
    /// Percent.
    pub min_cost_savings: f64,
    pub budget_bytes: Option<i64>,
    pub max_indexes_per_table: usize,
    /// Verify proposals with hypopg (`--no-verify` turns it off).
    pub verify: bool,
    pub drop_unused: bool,
    pub queries: Vec<String>,
    pub queries_file: Option<PathBuf>,
    pub include_tables: Vec<String>,
    /// `--exclude-table` and the file's `[ignore] tables`.
    pub exclude_tables: Vec<String>,
}

/// The connection-pool verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Pools {
    /// The file's pools, with any the command line names replaced.
    pub declared: Vec<DeclaredPool>,
    pub db_cores: Option<u32>,
    /// Asked for by a pool flag or a declared pool in the file.
    pub requested: bool,
    pub sample_window: Duration,
}

/// Where and how `scan` writes migration files.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationOutput {
    /// `--out`: `None` writes no migrations.
    pub dir: Option<PathBuf>,
    pub format: MigrationFormat,
    pub lock_timeout: Duration,
    pub force: bool,
}

/// `scan` and `pool`, and the scan inside `audit` and `demo`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSettings {
    pub connection: Connection,
    /// Read this snapshot file instead of connecting.
    pub snapshot: Option<PathBuf>,
    pub format: OutputFormat,
    pub save_snapshot: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub pr_body: Option<PathBuf>,
    pub advisor: Advisor,
    pub pools: Pools,
    pub migrations: MigrationOutput,
    /// Where migrations are (or were) written: the PR body and SARIF point into it.
    pub migrations_dir: PathBuf,
    pub thresholds: MissingIndexThresholds,
    pub ignored_rules: Vec<RuleId>,
    pub ignored_tables: Vec<String>,
}

impl ScanSettings {
    /// `pgadvise scan`: the file's `[migrations]` also choose where and how
    /// migrations are written.
    pub fn for_scan(args: &ScanArgs, file: &Config, explicit: &Explicit) -> ScanSettings {
        Self::resolve(args, file, explicit, true)
    }

    /// `pool` and `audit`: they write no migrations unless their own flags ask.
    pub fn without_file_migrations(
        args: &ScanArgs,
        file: &Config,
        explicit: &Explicit,
    ) -> ScanSettings {
        Self::resolve(args, file, explicit, false)
    }

    fn resolve(
        args: &ScanArgs,
        file: &Config,
        explicit: &Explicit,
        file_migrations: bool,
    ) -> ScanSettings {
        let c = &file.connection;
        let duration = |d: Option<crate::units::Duration>| d.map(|d| d.get());
        // DATABASE_URL (a CI secret, say) wins over a URL committed in the file.
        let target = args.connection.explicit().map(str::to_string).or_else(|| {
            (args.snapshot.is_none() && std::env::var_os("DATABASE_URL").is_none())
                .then(|| c.database_url.clone())
                .flatten()
        });
        let connection = Connection {
            target,
            connect_timeout: duration(args.connection.connect_timeout.or(c.connect_timeout)),
            statement_timeout: explicit
                .pick(
                    "statement_timeout",
                    args.connection.statement_timeout,
                    c.statement_timeout,
                )
                .get(),
            lock_timeout: explicit
                .pick("lock_timeout", args.connection.lock_timeout, c.lock_timeout)
                .get(),
        };
        let m = &file.migrations;
        let out = &args.migrations;
        let migrations = if file_migrations {
            MigrationOutput {
                dir: out.out.clone().or_else(|| m.dir.clone()),
                format: explicit.pick("migration_format", out.migration_format, m.format),
                lock_timeout: explicit
                    .pick(
                        "migration_lock_timeout",
                        out.migration_lock_timeout,
                        m.lock_timeout,
                    )
                    .get(),
                force: out.force,
            }
        } else {
            MigrationOutput {
                dir: out.out.clone(),
                format: out.migration_format,
                lock_timeout: out.migration_lock_timeout.get(),
                force: out.force,
            }
        };
        let migrations_dir = out
            .out
            .clone()
            .or_else(|| m.dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MIGRATIONS_DIR));
        let o = &file.output;
        ScanSettings {
            connection,
            snapshot: args.snapshot.clone(),
            format: explicit.pick("format", args.format, o.format),
            save_snapshot: args
                .save_snapshot
                .clone()
                .or_else(|| o.save_snapshot.clone()),
            report: args.report.clone().or_else(|| o.report.clone()),
            pr_body: args.pr_body.clone().or_else(|| o.pr_body.clone()),
            advisor: advisor(args, file, explicit),
            pools: pools(args, file),
            migrations,
            migrations_dir,
            thresholds: file.missing_index_thresholds(),
            ignored_rules: file.ignore.rules.clone(),
            ignored_tables: file.ignore.tables.clone(),
        }
    }
}

fn advisor(args: &ScanArgs, file: &Config, explicit: &Explicit) -> Advisor {
    let a = &file.advisor;
    let cli = &args.advisor;
    let duration = |d: Option<crate::units::Duration>| d.map(|d| d.get());
    // Lists: the command line's when it gives any, else the file's.
    let list = |command_line: &Vec<String>, file: &Vec<String>| {
        if command_line.is_empty() {
            file.clone()
        } else {
            command_line.clone()
        }
    };
    let mut exclude_tables = list(&cli.exclude_tables, &a.exclude_tables);
    // Ignored tables get no proposals, whatever the command line says.
    exclude_tables.extend(file.ignore.tables.iter().cloned());
    Advisor {
        top: explicit.pick("top", cli.top, a.top),
        min_calls: explicit.pick("min_calls", cli.min_calls, a.min_calls),
        min_total_time: duration(cli.min_total_time.or(a.min_total_time)),
        min_mean_time: duration(cli.min_mean_time.or(a.min_mean_time)),
        min_cost_savings: explicit.pick(
            "min_cost_savings",
            cli.min_cost_savings,
            a.min_cost_savings,
        ),
        budget_bytes: cli.budget.or(a.budget).map(|s| s.bytes()),
        max_indexes_per_table: explicit.pick(
            "max_indexes_per_table",
            cli.max_indexes_per_table,
            a.max_indexes_per_table,
        ),
        verify: explicit.pick("no_verify", !cli.no_verify, a.verify),
        drop_unused: explicit.pick("drop_unused", cli.drop_unused, a.drop_unused),
        queries: list(&cli.queries, &a.queries),
        queries_file: cli.queries_file.clone().or_else(|| a.queries_file.clone()),
        include_tables: list(&cli.include_tables, &a.include_tables),
        exclude_tables,
    }
}

fn pools(args: &ScanArgs, file: &Config) -> Pools {
    let cli = &args.pool;
    let mut declared = file.declared_pools();
    declared.retain(|d| !cli.declared.iter().any(|c| c.name == d.name));
    declared.extend(cli.declared.iter().cloned());
    Pools {
        declared,
        db_cores: cli.db_cores.or(file.pool.db_cores),
        requested: cli.requested() || !file.pools.is_empty(),
        sample_window: cli
            .sample_window
            .or(file.pool.sample_window)
            .map_or(DEFAULT_SAMPLE_WINDOW, |d| d.get()),
    }
}

/// `pgadvise audit`: the scan, and what fails it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSettings {
    pub scan: ScanSettings,
    pub fail_on: Severity,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
}

impl AuditSettings {
    pub fn resolve(args: &AuditArgs, file: &Config, explicit: &Explicit) -> AuditSettings {
        let a = &file.audit;
        AuditSettings {
            scan: ScanSettings::without_file_migrations(&args.scan, file, explicit),
            fail_on: args.fail_on.or(a.fail_on).unwrap_or(Severity::High),
            baseline: args.baseline.clone().or_else(|| a.baseline.clone()),
            write_baseline: args
                .write_baseline
                .clone()
                .or_else(|| a.write_baseline.clone()),
        }
    }
}

/// `pgadvise audit` of a fleet: the audit every target starts from, and the targets.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSettings {
    /// The audit as resolved; each target gets its connection, pools, baseline
    /// and files from [`FleetSettings::for_target`].
    pub audit: AuditSettings,
    /// `--targets`, else `[audit] targets_file`.
    pub targets_file: Option<PathBuf>,
    /// `[[targets]]` (left out when `--targets` is given).
    pub listed: Vec<ListedTarget>,
    pub jobs: usize,
    /// `--report`: the folder of the index page and one report per target.
    pub report_dir: Option<PathBuf>,
    /// `--save-snapshot`: the folder of one snapshot per target.
    pub snapshot_dir: Option<PathBuf>,
    /// `--pool` flags: they replace a target's pools of the same name.
    command_line_pools: Vec<DeclaredPool>,
}

impl FleetSettings {
    /// `None` when the audit is of one database: the command line names a
    /// connection or a snapshot, or neither `--targets`, `[audit] targets_file`
    /// nor `[[targets]]` lists any. A flag that writes one file for one
    /// database (`--pr-body`, `--write-baseline`) is refused for a fleet.
    pub fn resolve(
        args: &AuditArgs,
        file: &Config,
        explicit: &Explicit,
    ) -> Result<Option<FleetSettings>, String> {
        let one_database =
            args.scan.connection.explicit().is_some() || args.scan.snapshot.is_some();
        let (targets_file, listed) = match &args.targets {
            Some(path) => (Some(path.clone()), Vec::new()),
            None if one_database => return Ok(None),
            None => (
                file.audit.targets_file.clone(),
                file.targets.iter().map(listed_target).collect(),
            ),
        };
        if targets_file.is_none() && listed.is_empty() {
            return Ok(None);
        }
        for (given, flag) in [
            (args.scan.pr_body.is_some(), "--pr-body"),
            (args.write_baseline.is_some(), "--write-baseline"),
        ] {
            if given {
                return Err(format!(
                    "{flag} writes one file for one database and cannot be used with a fleet \
                     (--targets or [[targets]]); audit that database alone to use it"
                ));
            }
        }
        let mut audit = AuditSettings::resolve(args, file, explicit);
        // The file's single-database outputs do not apply to a fleet.
        audit.scan.pr_body = None;
        audit.write_baseline = None;
        Ok(Some(FleetSettings {
            report_dir: audit.scan.report.take(),
            snapshot_dir: audit.scan.save_snapshot.take(),
            audit,
            targets_file,
            listed,
            jobs: explicit.pick("jobs", args.jobs, file.audit.jobs),
            command_line_pools: args.scan.pool.declared.clone(),
        }))
    }

    /// The audit of one target: its connection, its own pools and baseline
    /// where it has them, and its files in folders of its own.
    pub fn for_target(&self, target: &FleetTarget) -> AuditSettings {
        let mut audit = self.audit.clone();
        let scan = &mut audit.scan;
        scan.connection.target = Some(target.connection.clone());
        if let Some(own) = &target.pools {
            let mut declared = own.clone();
            declared.retain(|d| !self.command_line_pools.iter().any(|c| c.name == d.name));
            declared.extend(self.command_line_pools.iter().cloned());
            scan.pools.declared = declared;
            scan.pools.requested = true;
        }
        if let Some(baseline) = &target.baseline {
            audit.baseline = Some(baseline.clone());
        }
        scan.report = self.report_dir.as_ref().map(|dir| {
            dir.join(&target.slug)
                .join(crate::fleet::TARGET_REPORT_FILE)
        });
        scan.save_snapshot = self
            .snapshot_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.json", target.slug)));
        scan.migrations.dir = scan.migrations.dir.as_ref().map(|d| d.join(&target.slug));
        scan.migrations_dir = scan.migrations_dir.join(&target.slug);
        audit
    }
}

fn listed_target(entry: &crate::config::TargetEntry) -> ListedTarget {
    ListedTarget {
        name: entry.name.clone(),
        connection: entry.database_url.clone(),
        pools: (!entry.pools.is_empty()).then(|| crate::config::declared(&entry.pools)),
        baseline: entry.baseline.clone(),
    }
}

/// `pgadvise verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifySettings {
    /// The folder `scan --out` wrote.
    pub dir: PathBuf,
    pub connection: Connection,
    pub analyze: bool,
    pub format: VerifyFormat,
}

impl VerifySettings {
    pub fn resolve(args: &VerifyArgs, file: &Config, explicit: &Explicit) -> VerifySettings {
        VerifySettings {
            dir: explicit.pick("dir", args.dir.clone(), file.migrations.dir.clone()),
            connection: Connection::from_args(&args.connection),
            analyze: args.analyze,
            format: args.format,
        }
    }
}

/// `pgadvise snapshot`.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSettings {
    pub connection: Connection,
    /// `None`: stdout.
    pub output: Option<PathBuf>,
}

impl SnapshotSettings {
    pub fn resolve(args: &SnapshotArgs) -> SnapshotSettings {
        SnapshotSettings {
            connection: Connection::from_args(&args.connection),
            output: args.output.clone(),
        }
    }
}

/// Where `diff` reads NEW from.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffNew {
    File(PathBuf),
    /// The database now, in the collector's read-only session.
    Live(Connection),
}

/// `pgadvise diff`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffSettings {
    pub old: PathBuf,
    pub new: DiffNew,
    pub options: crate::diff::DiffOptions,
    /// Percent; exit 1 on a regression at or above it.
    pub fail_on_regression: Option<f64>,
    pub format: DiffFormat,
    /// Where to write NEW when it is read live.
    pub save_snapshot: Option<PathBuf>,
}

impl DiffSettings {
    pub fn resolve(args: &DiffArgs, file: &Config, explicit: &Explicit) -> DiffSettings {
        let c = &file.connection;
        let new = match args.new.as_deref() {
            Some(new) if !looks_like_connection(new) => DiffNew::File(PathBuf::from(new)),
            given => {
                // As scan: DATABASE_URL wins over the file's database_url.
                let target = given
                    .or(args.database_url.as_deref())
                    .map(str::to_string)
                    .or_else(|| {
                        std::env::var_os("DATABASE_URL")
                            .is_none()
                            .then(|| c.database_url.clone())
                            .flatten()
                    });
                DiffNew::Live(Connection {
                    target,
                    connect_timeout: args.connect_timeout.or(c.connect_timeout).map(|d| d.get()),
                    statement_timeout: explicit
                        .pick(
                            "statement_timeout",
                            args.statement_timeout,
                            c.statement_timeout,
                        )
                        .get(),
                    lock_timeout: explicit
                        .pick("lock_timeout", args.lock_timeout, c.lock_timeout)
                        .get(),
                })
            }
        };
        let d = &file.diff;
        let threshold = explicit.pick("threshold", args.threshold, d.threshold);
        let fail_on_regression = args.fail_on_regression.or(d.fail_on_regression);
        // Every statement that fails the run is also listed as a regression.
        let threshold_pct = match fail_on_regression {
            Some(fail) => threshold.min(fail),
            None => threshold,
        };
        DiffSettings {
            old: args.old.clone(),
            new,
            options: crate::diff::DiffOptions {
                threshold_pct,
                min_calls: explicit.pick("min_calls", args.min_calls, d.min_calls),
                top: explicit.pick("top", args.top, d.top),
            },
            fail_on_regression,
            format: explicit.pick("format", args.format, d.format),
            save_snapshot: args
                .save_snapshot
                .clone()
                .or_else(|| d.save_snapshot.clone()),
        }
    }
}

/// A URL (`postgres://`, `postgresql://`) or a conninfo string (`key=value`)
/// rather than a file name.
fn looks_like_connection(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://") || text.contains('=')
}

/// `pgadvise demo`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    pub out_dir: PathBuf,
    /// A server to load the demo into instead of a local one.
    pub database_url: Option<String>,
}

impl DemoSettings {
    pub fn resolve(args: &DemoArgs, file: &Config, explicit: &Explicit) -> DemoSettings {
        DemoSettings {
            out_dir: explicit.pick("out_dir", args.out_dir.clone(), file.demo.out_dir.clone()),
            database_url: args.database_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    fn parse(args: &[&str]) -> (Cli, Explicit) {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        (cli, Explicit::from_matches(&matches))
    }

    fn scan(config: &Config, args: &[&str]) -> ScanSettings {
        let (cli, explicit) = parse(args);
        let Command::Scan(args) = cli.command else {
            panic!("scan expected")
        };
        ScanSettings::for_scan(&args, config, &explicit)
    }

    const FILE: &str = "quiet = true\n[output]\nformat = \"sarif\"\nreport = \"r.html\"\n\
         [advisor]\ntop = 7\nmin_calls = 9\nverify = false\nexclude_tables = [\"audit_log\"]\n\
         budget = \"1GB\"\nmin_mean_time = \"2ms\"\n\
         [connection]\nlock_timeout = \"3s\"\n[audit]\nfail_on = \"medium\"\n\
         [ignore]\ntables = [\"scratch\"]\nrules = [\"pool-oversized\"]\n\
         [thresholds]\nmissing_index_high_share = 0.2\nmissing_index_critical_time = \"2h\"\n\
         [migrations]\nformat = \"sqlx\"\ndir = \"db/migrations\"\nlock_timeout = \"9s\"\n\
         [demo]\nout_dir = \"demo\"\n[pool]\nsample_window = \"30s\"\n";

    #[test]
    fn the_file_fills_what_the_command_line_left_out() {
        let config = Config::parse(FILE).unwrap();
        let (cli, explicit) = parse(&["pgadvise", "audit", "--top", "3", "--format", "json"]);
        let Command::Audit(args) = cli.command else {
            panic!("audit expected")
        };
        let audit = AuditSettings::resolve(&args, &config, &explicit);
        let s = &audit.scan;
        assert_eq!(s.advisor.top, 3, "the command line wins");
        assert_eq!(s.format, OutputFormat::Json, "the command line wins");
        assert_eq!(s.advisor.min_calls, 9);
        assert!(!s.advisor.verify);
        assert_eq!(s.advisor.exclude_tables, ["audit_log", "scratch"]);
        assert_eq!(s.advisor.budget_bytes, Some(1 << 30));
        assert_eq!(s.advisor.min_mean_time, Some(Duration::from_millis(2)));
        assert_eq!(s.connection.lock_timeout, Duration::from_secs(3));
        assert_eq!(s.report, Some(PathBuf::from("r.html")));
        assert_eq!(s.pools.sample_window, Duration::from_secs(30));
        assert!(
            !s.pools.requested,
            "a sample window alone asks for no verdict"
        );
        assert_eq!(audit.fail_on, Severity::Medium);
        assert_eq!(s.thresholds.high_share, 0.2);
        assert_eq!(s.thresholds.critical_ms, 7_200_000.0);
        // audit writes no migrations of the file's, but points at its folder.
        assert_eq!(s.migrations.dir, None);
        assert_eq!(s.migrations.format, MigrationFormat::Sql);
        assert_eq!(s.migrations_dir, PathBuf::from("db/migrations"));
        assert!(quiet(false, &config));

        let s = scan(&config, &["pgadvise", "scan"]);
        assert_eq!(s.format, OutputFormat::Sarif);
        assert_eq!(s.advisor.top, 7);
        assert_eq!(s.migrations.dir, Some(PathBuf::from("db/migrations")));
        assert_eq!(s.migrations.format, MigrationFormat::Sqlx);
        assert_eq!(s.migrations.lock_timeout, Duration::from_secs(9));

        let s = scan(
            &config,
            &[
                "pgadvise",
                "scan",
                "--no-verify",
                "--lock-timeout",
                "1s",
                "--budget",
                "287MB",
            ],
        );
        assert!(!s.advisor.verify);
        assert_eq!(
            s.connection.lock_timeout,
            Duration::from_secs(1),
            "typed, though the default"
        );
        assert_eq!(s.advisor.budget_bytes, Some(287 << 20));
    }

    #[test]
    fn defaults_stand_without_a_file() {
        let none = Config::default();
        let s = scan(&none, &["pgadvise", "scan"]);
        assert_eq!(s.format, OutputFormat::Text);
        assert_eq!(s.advisor.top, 100);
        assert!(s.advisor.verify);
        assert_eq!(s.connection.statement_timeout, Duration::from_secs(30));
        assert_eq!(s.pools.sample_window, DEFAULT_SAMPLE_WINDOW);
        assert_eq!(s.migrations.dir, None);
        assert_eq!(s.migrations_dir, PathBuf::from("migrations-out"));
        assert_eq!(s.migrations.lock_timeout, Duration::from_secs(5));
        let (cli, explicit) = parse(&["pgadvise", "verify"]);
        let Command::Verify(args) = cli.command else {
            panic!("verify expected")
        };
        let v = VerifySettings::resolve(&args, &none, &explicit);
        assert_eq!(v.dir, PathBuf::from("migrations-out"));
    }

    #[test]
    fn diff_reads_new_from_a_file_or_a_connection() {
        let none = Config::default();
        let resolve = |argv: &[&str]| {
            let (cli, explicit) = parse(argv);
            let Command::Diff(args) = cli.command else {
                panic!("diff expected")
            };
            DiffSettings::resolve(&args, &none, &explicit)
        };
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["pgadvise", "diff", "old.json", "new.json"], None),
            (
                &["pgadvise", "diff", "old.json", "postgresql://u@h/db"],
                Some("postgresql://u@h/db"),
            ),
            (
                &["pgadvise", "diff", "old.json", "host=h dbname=db"],
                Some("host=h dbname=db"),
            ),
            (
                &[
                    "pgadvise",
                    "diff",
                    "old.json",
                    "--database-url",
                    "postgres://u@h/db",
                ],
                Some("postgres://u@h/db"),
            ),
        ];
        for (argv, live) in cases {
            match (resolve(argv).new, live) {
                (DiffNew::File(path), None) => assert_eq!(path, PathBuf::from("new.json")),
                (DiffNew::Live(c), Some(url)) => assert_eq!(c.target.as_deref(), Some(url)),
                (other, _) => panic!("{argv:?}: {other:?}"),
            }
        }
        let s = resolve(&["pgadvise", "diff", "a.json", "b.json"]);
        assert_eq!(s.options, crate::diff::DiffOptions::default());
        // Failing at 10% lists every statement that fails the run.
        let s = resolve(&[
            "pgadvise",
            "diff",
            "a.json",
            "b.json",
            "--fail-on-regression",
            "10",
        ]);
        assert_eq!(s.options.threshold_pct, 10.0);
        assert_eq!(s.fail_on_regression, Some(10.0));
        let s = resolve(&[
            "pgadvise",
            "diff",
            "a.json",
            "b.json",
            "--fail-on-regression",
            "50%",
        ]);
        assert_eq!(s.options.threshold_pct, 20.0);

        let config = Config::parse(
            "[diff]\nthreshold = 30\nmin_calls = 10\nformat = \"markdown\"\nfail_on_regression = 80\n",
        )
        .unwrap();
        let (cli, explicit) = parse(&["pgadvise", "diff", "a.json", "b.json", "--min-calls", "5"]);
        let Command::Diff(args) = cli.command else {
            panic!("diff expected")
        };
        let s = DiffSettings::resolve(&args, &config, &explicit);
        assert_eq!(s.options.threshold_pct, 30.0);
        assert_eq!(s.options.min_calls, 5, "the command line wins");
        assert_eq!(s.format, DiffFormat::Markdown);
        assert_eq!(s.fail_on_regression, Some(80.0));
    }

    #[test]
    fn declared_pools_from_the_command_line_replace_the_files() {
        let config = Config::parse(
            "[pools.api]\ninstances = 4\nsize = 20\n[pools.worker]\ninstances = 1\nsize = 5\n",
        )
        .unwrap();
        let s = scan(&config, &["pgadvise", "scan", "--pool", "api=2x10"]);
        let declared: Vec<_> = s
            .pools
            .declared
            .iter()
            .map(|p| (p.name.as_str(), p.instances, p.size))
            .collect();
        assert_eq!(declared, [("worker", 1, 5), ("api", 2, 10)]);
        assert!(s.pools.requested);
    }

    #[test]
    fn folders_from_the_file_unless_typed() {
        let config = Config::parse(FILE).unwrap();
        let cases: [(&[&str], &str); 3] = [
            (&["pgadvise", "verify"], "db/migrations"),
            (&["pgadvise", "verify", "migrations-out"], "migrations-out"),
            (&["pgadvise", "demo"], "demo"),
        ];
        for (argv, dir) in cases {
            let (cli, explicit) = parse(argv);
            let resolved = match cli.command {
                Command::Verify(args) => VerifySettings::resolve(&args, &config, &explicit).dir,
                Command::Demo(args) => DemoSettings::resolve(&args, &config, &explicit).out_dir,
                _ => panic!("verify or demo expected"),
            };
            assert_eq!(resolved, PathBuf::from(dir), "{argv:?}");
        }
    }

    fn fleet(config: &Config, argv: &[&str]) -> Result<Option<FleetSettings>, String> {
        let (cli, explicit) = parse(argv);
        let Command::Audit(args) = cli.command else {
            panic!("audit expected")
        };
        FleetSettings::resolve(&args, config, &explicit)
    }

    #[test]
    fn a_fleet_when_targets_are_listed_and_no_single_database_is_named() {
        let config = Config::parse(
            "[audit]\njobs = 2\nbaseline = \"all.json\"\n[pools.api]\ninstances = 2\nsize = 10\n\
             [[targets]]\nname = \"shop\"\ndatabase_url = \"host=db1 dbname=shop\"\n\
             baseline = \"shop.json\"\n[targets.pools.web]\ninstances = 3\nsize = 7\n\
             [[targets]]\ndatabase_url = \"host=db2 dbname=crm\"\n",
        )
        .unwrap();
        assert_eq!(fleet(&config, &["pgadvise", "audit", "host=db9"]), Ok(None));
        assert_eq!(
            fleet(&config, &["pgadvise", "audit", "--snapshot", "s.json"]),
            Ok(None)
        );
        assert_eq!(fleet(&Config::default(), &["pgadvise", "audit"]), Ok(None));

        let f = fleet(
            &config,
            &["pgadvise", "audit", "--report", "out", "--pool", "web=1x1"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.jobs, 2);
        assert_eq!(f.listed.len(), 2);
        assert_eq!(f.report_dir, Some(PathBuf::from("out")));
        let targets = crate::fleet::name_targets(f.listed.clone());
        let shop = f.for_target(&targets[0]);
        assert_eq!(
            shop.scan.connection.target.as_deref(),
            Some("host=db1 dbname=shop")
        );
        assert_eq!(shop.baseline, Some(PathBuf::from("shop.json")));
        assert_eq!(
            shop.scan.report,
            Some(PathBuf::from("out/shop/report.html"))
        );
        let pools: Vec<_> = shop
            .scan
            .pools
            .declared
            .iter()
            .map(|p| (p.name.as_str(), p.instances, p.size))
            .collect();
        assert_eq!(
            pools,
            [("web", 1, 1)],
            "its own pools, the command line's win"
        );
        let crm = f.for_target(&targets[1]);
        assert_eq!(crm.baseline, Some(PathBuf::from("all.json")));
        assert_eq!(
            crm.scan.pools.declared.len(),
            2,
            "the file's and the command line's"
        );
        assert_eq!(
            crm.scan.migrations_dir,
            PathBuf::from("migrations-out").join(&targets[1].slug)
        );

        let f = fleet(
            &config,
            &["pgadvise", "audit", "--targets", "t.txt", "--jobs", "7"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.targets_file, Some(PathBuf::from("t.txt")));
        assert!(f.listed.is_empty(), "--targets replaces [[targets]]");
        assert_eq!(f.jobs, 7);

        let refused = fleet(
            &config,
            &["pgadvise", "audit", "--write-baseline", "b.json"],
        );
        assert!(refused.unwrap_err().contains("--write-baseline"));
    }

    #[test]
    fn the_connection_comes_from_the_command_line_then_database_url_then_the_file() {
        let with_url =
            Config::parse("[connection]\ndatabase_url = \"postgresql://u@h/db\"\n").unwrap();
        let s = scan(&with_url, &["pgadvise", "scan"]);
        let expected = match std::env::var_os("DATABASE_URL") {
            None => Some("postgresql://u@h/db"),
            Some(_) => None, // DATABASE_URL wins; ConnectionSpec reads it later
        };
        assert_eq!(s.connection.target.as_deref(), expected);
        let s = scan(&with_url, &["pgadvise", "scan", "postgresql://other@h/db"]);
        assert_eq!(
            s.connection.target.as_deref(),
            Some("postgresql://other@h/db")
        );
        let s = scan(&with_url, &["pgadvise", "scan", "--snapshot", "s.json"]);
        assert_eq!(s.connection.target, None, "a snapshot needs no connection");
    }
}
