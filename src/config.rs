//! `pgadvise.toml`: settings a team keeps next to its code, so scheduled runs
//! need no long command lines. Found in the working directory, or given with
//! `--config`. Flags given on the command line win over the file.
//!
//! Every command-line flag has a key (README, "pgadvise.toml"):
//!
//! ```toml
//! quiet = false
//! [connection]   connect_timeout, statement_timeout, lock_timeout
//! [advisor]      top, min_calls, min_total_time, min_mean_time, min_cost_savings, budget,
//!                max_indexes_per_table,
//!                verify, queries, queries_file, include_tables, exclude_tables, drop_unused
//! [output]       format, report, pr_body, save_snapshot
//! [audit]        fail_on, baseline, write_baseline
//! [thresholds]   missing_index_high_share, missing_index_medium_share, missing_index_critical_time
//! [ignore]       tables, rules
//! [migrations]   format, dir (= scan --out), lock_timeout
//! [demo]         out_dir
//! [diff]         threshold, min_calls, top, fail_on_regression, format, save_snapshot
//! [pools.api]    instances = 4, size = 20     (matched to application_name)
//! [pool]         sample_window = "30s", db_cores = 8
//! [[targets]]    name, database_url, baseline, [targets.pools.api]   (audit: a fleet)
//! ```

use crate::analyze::finding::Severity;
use crate::analyze::pool::DeclaredPool;
use crate::analyze::rule::RuleId;
use crate::cli::{DiffFormat, OutputFormat};
use crate::emit::audit::MissingIndexThresholds;
use crate::emit::migrations::MigrationFormat;
use crate::units::{Duration, Size};
use clap::ValueEnum;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "pgadvise.toml";

/// The file as written: each value already parsed and checked, so a bad one
/// is an error when the file is read, never a value silently left out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Declared connection pools by application_name.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolEntry>,
    #[serde(default)]
    pub pool: PoolSection,
    /// `--quiet`.
    #[serde(default)]
    pub quiet: bool,
    #[serde(default)]
    pub connection: ConnectionSection,
    #[serde(default)]
    pub advisor: AdvisorSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub ignore: IgnoreSection,
    #[serde(default)]
    pub migrations: MigrationSection,
    #[serde(default)]
    pub demo: DemoSection,
    /// `audit` of a fleet: the databases to audit when the command line names none.
    #[serde(default)]
    pub targets: Vec<TargetEntry>,
    #[serde(default)]
    pub diff: DiffSection,
}

/// One `[[targets]]` table: a database `audit` audits as part of a fleet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    /// Shown in the summary and names its report folder; default: user@host:port/dbname.
    pub name: Option<String>,
    /// URL or conninfo (no password here: ~/.pgpass).
    pub database_url: String,
    /// This database's own pools; they replace the file's `[pools]` for it.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolEntry>,
    /// This database's own baseline; it replaces `[audit] baseline` for it.
    pub baseline: Option<PathBuf>,
}

/// `pgadvise diff`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffSection {
    /// Percent, zero or more.
    #[serde(default, deserialize_with = "growth_percent")]
    pub threshold: Option<f64>,
    pub min_calls: Option<i64>,
    #[serde(default, deserialize_with = "at_least_one")]
    pub top: Option<usize>,
    #[serde(default, deserialize_with = "growth_percent")]
    pub fail_on_regression: Option<f64>,
    /// `text`, `json` or `markdown`.
    #[serde(default, deserialize_with = "diff_format")]
    pub format: Option<DiffFormat>,
    pub save_snapshot: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSection {
    /// The connection (URL or conninfo) when neither the command line nor
    /// DATABASE_URL gives one; it wins over the PG* variables. Keep passwords in
    /// ~/.pgpass or PGPASSWORD rather than here.
    pub database_url: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    pub lock_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorSection {
    pub top: Option<usize>,
    pub min_calls: Option<i64>,
    pub min_total_time: Option<Duration>,
    pub min_mean_time: Option<Duration>,
    #[serde(default, deserialize_with = "percent")]
    pub min_cost_savings: Option<f64>,
    /// `--budget`: total size of the proposed set, e.g. `500MB`.
    pub budget: Option<Size>,
    #[serde(default, deserialize_with = "at_least_one")]
    pub max_indexes_per_table: Option<usize>,
    /// `false` is `--no-verify`.
    pub verify: Option<bool>,
    #[serde(default)]
    pub queries: Vec<String>,
    pub queries_file: Option<PathBuf>,
    #[serde(default)]
    pub include_tables: Vec<String>,
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// `--drop-unused`: also write drops for unused indexes.
    pub drop_unused: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// `text`, `json`, `sarif` or `github`.
    #[serde(default, deserialize_with = "output_format")]
    pub format: Option<OutputFormat>,
    pub report: Option<PathBuf>,
    pub pr_body: Option<PathBuf>,
    pub save_snapshot: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// `low`, `medium`, `high` (default) or `critical`.
    #[serde(default, deserialize_with = "severity")]
    pub fail_on: Option<Severity>,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    /// `--targets`: a file with one connection per line.
    pub targets_file: Option<PathBuf>,
    /// `--jobs`: targets audited at a time.
    #[serde(default, deserialize_with = "at_least_one")]
    pub jobs: Option<usize>,
}

/// How serious a missing index is: the share of the workload's time it saves.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default, deserialize_with = "share")]
    pub missing_index_high_share: Option<f64>,
    #[serde(default, deserialize_with = "share")]
    pub missing_index_medium_share: Option<f64>,
    /// At or above the high share and this much time saved, critical.
    pub missing_index_critical_time: Option<Duration>,
}

/// Findings to leave out: rule ids, and tables (`schema.table` or a bare name).
/// Ignored tables are also left out of index proposals.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreSection {
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RuleId>,
}

/// For the migration writer (`scan --out`): the runner's format and the folder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    #[serde(default, deserialize_with = "migration_format")]
    pub format: Option<MigrationFormat>,
    /// `scan --out`: with it set, every `scan` writes its migrations here.
    pub dir: Option<PathBuf>,
    /// `--migration-lock-timeout`.
    pub lock_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    #[serde(deserialize_with = "count")]
    pub instances: u32,
    #[serde(deserialize_with = "count")]
    pub size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    /// A duration such as `10s` or `2min`.
    pub sample_window: Option<Duration>,
    pub db_cores: Option<u32>,
}

/// What is wrong in the file, and where: the line and the key, when known.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub line: Option<usize>,
    /// As the file spells it: `[advisor] budget`, or `quiet` at the top.
    pub key: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `pgadvise.toml line 3: [advisor] budget: ...`
    #[error("{}{}{error}", path.display(), if error.line.is_some() { " " } else { ": " })]
    Invalid { path: PathBuf, error: FileError },
}

impl Config {
    /// Reads `explicit`, or `./pgadvise.toml` when it exists; `None` when there is no file.
    pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_FILE);
                if !p.is_file() {
                    return Ok(None);
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|error| ConfigError::Invalid {
            path: path.clone(),
            error,
        })?;
        Ok(Some((path, config)))
    }

    pub fn parse(text: &str) -> Result<Config, FileError> {
        // A syntax error: toml's own message already shows the line.
        let document = toml::Deserializer::parse(text).map_err(|e| FileError {
            line: None,
            key: None,
            message: e.to_string().trim_end().to_string(),
        })?;
        serde_path_to_error::deserialize(document).map_err(|e| FileError {
            line: e.inner().span().map(|span| line_of(text, span.start)),
            key: key_name(e.path()),
            message: e.inner().message().to_string(),
        })
    }

    pub fn declared_pools(&self) -> Vec<DeclaredPool> {
        declared(&self.pools)
    }

    /// The missing-index severity thresholds, the file's where it sets them.
    pub fn missing_index_thresholds(&self) -> MissingIndexThresholds {
        let mut t = MissingIndexThresholds::default();
        let f = &self.thresholds;
        if let Some(v) = f.missing_index_high_share {
            t.high_share = v;
        }
        if let Some(v) = f.missing_index_medium_share {
            t.medium_share = v;
        }
        if let Some(d) = f.missing_index_critical_time {
            t.critical_ms = d.get().as_secs_f64() * 1000.0;
        }
        t
    }
}

/// Pools by application_name as the analysis takes them.
pub fn declared(pools: &BTreeMap<String, PoolEntry>) -> Vec<DeclaredPool> {
    pools
        .iter()
        .map(|(name, p)| DeclaredPool {
            name: name.clone(),
            instances: p.instances,
            size: p.size,
        })
        .collect()
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A key path as the file spells it: `[advisor] budget`, `[pools.api] size`,
/// `quiet`. Array positions are left out: the message names the value.
fn key_name(path: &serde_path_to_error::Path) -> Option<String> {
    let mut keys: Vec<&str> = path
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let last = keys.pop()?;
    Some(if keys.is_empty() {
        last.to_string()
    } else {
        format!("[{}] {last}", keys.join("."))
    })
}

/// A value checked by `check` after serde reads it as a `T`.
fn checked<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(T) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = T::deserialize(deserializer)?;
    check(value).map(Some).map_err(D::Error::custom)
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    checked(d, |p: f64| {
        if (0.0..=100.0).contains(&p) {
            Ok(p)
        } else {
            Err(format!("{p} is not between 0 and 100"))
        }
    })
}

fn share<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    checked(d, |s: f64| {
        if (0.0..=1.0).contains(&s) {
            Ok(s)
        } else {
            Err("a share between 0 and 1".to_string())
        }
    })
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    checked(d, |n: usize| {
        if n >= 1 {
            Ok(n)
        } else {
            Err("at least 1".to_string())
        }
    })
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n == 0 {
        return Err(D::Error::custom("instances and size must be at least 1"));
    }
    Ok(n)
}

fn output_format<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OutputFormat>, D::Error> {
    let text = String::deserialize(d)?;
    OutputFormat::from_str(&text, true)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("'{text}' (text, json, sarif or github)")))
}

fn diff_format<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DiffFormat>, D::Error> {
    let text = String::deserialize(d)?;
    DiffFormat::from_str(&text, true)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("'{text}' (text, json or markdown)")))
}

/// A growth in percent: zero or more (200 is a tripling).
fn growth_percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    checked(d, |p: f64| {
        if p.is_finite() && p >= 0.0 {
            Ok(p)
        } else {
            Err(format!("{p} is not a percentage of zero or more"))
        }
    })
}

fn migration_format<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MigrationFormat>, D::Error> {
    let text = String::deserialize(d)?;
    MigrationFormat::from_str(&text, true)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("'{text}' is not a migration format")))
}

fn severity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
    let text = String::deserialize(d)?;
    crate::emit::audit::parse_severity(&text)
        .map(Some)
        .map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pools_and_settings() {
        let config = Config::parse(
            "[pools.api]\ninstances = 4\nsize = 20\n\n[pools.\"admin tool\"]\ninstances = 1\nsize = 5\n\n\
             [pool]\nsample_window = \"30s\"\ndb_cores = 8\n",
        )
        .unwrap();
        let pools = config.declared_pools();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].name, "admin tool");
        assert_eq!(pools[1].total(), 80);
        assert_eq!(config.pool.sample_window, Some(Duration::from_secs(30)));
        assert_eq!(config.pool.db_cores, Some(8));
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn reads_targets() {
        let config = Config::parse(
            "[audit]\ntargets_file = \"fleet.txt\"\njobs = 8\n\
             [[targets]]\nname = \"shop\"\ndatabase_url = \"postgresql://app@db1/shop\"\n\
             baseline = \"shop.json\"\n[targets.pools.api]\ninstances = 4\nsize = 20\n\
             [[targets]]\ndatabase_url = \"host=db2 dbname=crm\"\n",
        )
        .unwrap();
        assert_eq!(config.audit.targets_file, Some(PathBuf::from("fleet.txt")));
        assert_eq!(config.audit.jobs, Some(8));
        assert_eq!(config.targets.len(), 2);
        assert_eq!(config.targets[0].name.as_deref(), Some("shop"));
        assert_eq!(declared(&config.targets[0].pools)[0].total(), 80);
        assert_eq!(config.targets[1].name, None);
        assert!(config.targets[1].pools.is_empty());
        for (text, needle) in [
            ("[[targets]]\nname = \"x\"\n", "database_url"),
            ("[[targets]]\ndatabase_url = \"h\"\nhost = \"h\"\n", "host"),
            ("[audit]\njobs = 0\n", "[audit] jobs"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn values_are_typed_when_read() {
        let config = Config::parse(
            "[advisor]\nbudget = \"287MB\"\nmin_total_time = \"500ms\"\nmin_cost_savings = 10\n\
             [output]\nformat = \"SARIF\"\n[audit]\nfail_on = \"medium\"\n\
             [migrations]\nformat = \"sqlx\"\nlock_timeout = \"5s\"\n\
             [thresholds]\nmissing_index_critical_time = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(
            config.advisor.budget.map(Size::bytes),
            Some(287 * 1024 * 1024)
        );
        assert_eq!(
            config.advisor.min_total_time.map(|d| d.get().as_millis()),
            Some(500)
        );
        assert_eq!(config.advisor.min_cost_savings, Some(10.0));
        assert_eq!(config.output.format, Some(OutputFormat::Sarif));
        assert_eq!(config.audit.fail_on, Some(Severity::Medium));
        assert_eq!(config.migrations.format, Some(MigrationFormat::Sqlx));
        assert_eq!(config.missing_index_thresholds().critical_ms, 7_200_000.0);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[pools.api]\ninstances = 4\n", "size"),
            ("[pools.api]\ninstances = 0\nsize = 3\n", "at least 1"),
            ("[pool]\nsample_window = \"soon\"\n", "sample_window"),
            ("[poolz]\n", "poolz"),
            ("[pools.api]\ninstances = 4\nsize = 20\nmax = 3\n", "max"),
            ("[output]\nformat = \"xml\"\n", "[output] format"),
            ("[audit]\nfail_on = \"urgent\"\n", "[audit] fail_on"),
            ("[connection]\nlock_timeout = \"soon\"\n", "lock_timeout"),
            ("[advisor]\nmin_cost_savings = 120.0\n", "min_cost_savings"),
            (
                "[advisor]\nmax_indexes_per_table = 0\n",
                "max_indexes_per_table",
            ),
            (
                "[migrations]\nformat = \"flyaway\"\n",
                "[migrations] format",
            ),
            (
                "[thresholds]\nmissing_index_high_share = 5.0\n",
                "missing_index_high_share",
            ),
            ("[ignore]\nindexes = []\n", "indexes"),
            ("[advisor\n", "TOML parse error at line 1"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_bad_value_names_its_line_and_key() {
        let cases = [
            (
                "quiet = true\n\n[advisor]\ntop = 5\nbudget = \"lots\"\n",
                5,
                "[advisor] budget",
                "'lots' is not a size such as 500MB or 2GB",
            ),
            (
                "[connection]\nstatement_timeout = \"30 parsecs\"\n",
                2,
                "[connection] statement_timeout",
                "unknown unit 'parsecs'",
            ),
            ("quiet = \"yes\"\n", 1, "quiet", "bool"),
            (
                "[pools.api]\ninstances = 4\nsize = 0\n",
                3,
                "[pools.api] size",
                "at least 1",
            ),
            (
                "[advisor]\nbudget = 500\n",
                2,
                "[advisor] budget",
                "a string",
            ),
        ];
        for (text, line, key, message) in cases {
            let err = Config::parse(text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
        let err = ConfigError::Invalid {
            path: PathBuf::from("pgadvise.toml"),
            error: Config::parse("[advisor]\nbudget = \"lots\"\n").unwrap_err(),
        };
        assert_eq!(
            err.to_string(),
            "pgadvise.toml line 2: [advisor] budget: 'lots' is not a size such as 500MB or 2GB"
        );
    }

    #[test]
    fn an_unknown_ignored_rule_is_named_with_the_valid_ones() {
        let err = Config::parse("[ignore]\nrules = [\"unindexed-foreign-key\"]\n")
            .unwrap_err()
            .to_string();
        for needle in [
            "rules",
            "unindexed-foreign-key",
            "fk-without-index",
            "pool-saturated",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
