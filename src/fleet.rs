//! A fleet: the databases one `audit` run looks at, read from a targets file
//! (`--targets FILE`) or pgadvise.toml's `[[targets]]`. Each target gets a
//! name for people (never holding a password) and a folder name of its own.
//!
//! A targets file holds one connection per line, a URL or a libpq conninfo
//! (passwords best left to ~/.pgpass); blank lines and lines starting with `#`
//! are skipped. `NAME: CONNECTION` names the target: NAME is one word of
//! letters, digits, `_`, `.` and `-`, followed by `:` and a space, which no
//! URL (`postgresql://`) or conninfo (`host=...`) starts with.

use crate::analyze::pool::DeclaredPool;
use crate::collect::conninfo::{redact, ConnectionSpec};
use std::path::PathBuf;

/// Each target's report under `--report DIR`: `DIR/<slug>/report.html`.
pub const TARGET_REPORT_FILE: &str = "report.html";

/// The fleet's index page under `--report DIR`.
pub const INDEX_FILE: &str = "index.html";

/// One database of the fleet.
#[derive(Clone, PartialEq)]
pub struct FleetTarget {
    /// For people: the given name, else `user@host:port/dbname`. Unique in the fleet.
    pub name: String,
    /// The target's folder under `--report DIR`: lower-case ASCII, unique in the fleet.
    pub slug: String,
    /// URL or conninfo as given; it may hold a password, so it is never printed.
    pub connection: String,
    /// The target's own pools (`[[targets]]`), replacing the file's `[pools]`.
    pub pools: Option<Vec<DeclaredPool>>,
    /// The target's own baseline, replacing `[audit] baseline`.
    pub baseline: Option<PathBuf>,
}

/// Debug without the connection string, which may hold a password.
impl std::fmt::Debug for FleetTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetTarget")
            .field("name", &self.name)
            .field("slug", &self.slug)
            .field("connection", &redact(&self.connection))
            .field("pools", &self.pools)
            .field("baseline", &self.baseline)
            .finish()
    }
}

/// A target as listed, before names are made unique.
#[derive(Clone, PartialEq)]
pub struct ListedTarget {
    pub name: Option<String>,
    pub connection: String,
    pub pools: Option<Vec<DeclaredPool>>,
    pub baseline: Option<PathBuf>,
}

/// Debug without the connection string, which may hold a password.
impl std::fmt::Debug for ListedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListedTarget")
            .field("name", &self.name)
            .field("connection", &redact(&self.connection))
            .field("pools", &self.pools)
            .field("baseline", &self.baseline)
            .finish()
    }
}

impl ListedTarget {
    pub fn connection(connection: &str) -> ListedTarget {
        ListedTarget {
            name: None,
            connection: connection.to_string(),
            pools: None,
            baseline: None,
        }
    }
}

/// A line of a targets file that is not a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsFileError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for TargetsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The targets of a targets file, in order.
pub fn parse_targets_file(text: &str) -> Result<Vec<ListedTarget>, TargetsFileError> {
    let mut targets = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, connection) = match split_name(line) {
            Some((name, rest)) => (Some(name.to_string()), rest.trim()),
            None => (None, line),
        };
        if connection.is_empty() {
            return Err(TargetsFileError {
                line: index + 1,
                message: format!(
                    "'{}:' names no connection (write NAME: URL or NAME: host=... dbname=...)",
                    name.unwrap_or_default()
                ),
            });
        }
        targets.push(ListedTarget {
            name,
            connection: connection.to_string(),
            pools: None,
            baseline: None,
        });
    }
    Ok(targets)
}

/// `NAME: rest` when the line starts with a name.
fn split_name(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(':')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    (is_name && (rest.is_empty() || rest.starts_with([' ', '\t']))).then_some((name, rest))
}

/// Names and folders for the listed targets: a missing name is the
/// connection's `user@host:port/dbname` (the conninfo with its password
/// removed when it does not parse); a repeated one gets ` (2)`, ` (3)`, ...
pub fn name_targets(listed: Vec<ListedTarget>) -> Vec<FleetTarget> {
    let mut names: Vec<String> = Vec::new();
    let mut slugs: Vec<String> = Vec::new();
    listed
        .into_iter()
        .map(|t| {
            let base = match &t.name {
                Some(name) if !name.trim().is_empty() => name.trim().to_string(),
                _ => display_name(&t.connection),
            };
            let name = unique(&base, &names, |n| format!("{base} ({n})"));
            names.push(name.clone());
            let slug_base = slug(&name);
            let slug = unique(&slug_base, &slugs, |n| format!("{slug_base}-{n}"));
            slugs.push(slug.clone());
            FleetTarget {
                name,
                slug,
                connection: t.connection,
                pools: t.pools,
                baseline: t.baseline,
            }
        })
        .collect()
}

/// `user@host:port/dbname` of a connection, never its password.
pub fn display_name(connection: &str) -> String {
    match ConnectionSpec::from_env(Some(connection)) {
        Ok(spec) => spec.display_target(),
        Err(_) => redact(connection),
    }
}

fn unique(base: &str, taken: &[String], numbered: impl Fn(usize) -> String) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(numbered)
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| base.to_string())
}

/// A folder name for `name`: lower-case ASCII letters and digits, runs of
/// anything else as one `-`, at most 60 bytes; `target` when nothing is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(60);
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "target".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_file_holds_urls_conninfos_names_and_comments() {
        let text = "# nightly\n\npostgresql://app@db1/shop\n  host=db2 dbname=crm user=ops  \n\
                    billing: postgresql://app@db3:5433/billing?sslmode=require\n\
                    reports:\thost=db4 dbname=reports\n";
        let listed = parse_targets_file(text).unwrap();
        let got: Vec<(Option<&str>, &str)> = listed
            .iter()
            .map(|t| (t.name.as_deref(), t.connection.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (None, "postgresql://app@db1/shop"),
                (None, "host=db2 dbname=crm user=ops"),
                (
                    Some("billing"),
                    "postgresql://app@db3:5433/billing?sslmode=require"
                ),
                (Some("reports"), "host=db4 dbname=reports"),
            ]
        );
        assert_eq!(parse_targets_file("# only comments\n\n").unwrap(), []);
    }

    #[test]
    fn a_name_without_a_connection_is_named_by_line() {
        let err = parse_targets_file("postgresql://a@h/d\nbilling:\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("'billing:' names no connection"));
    }

    #[test]
    fn what_is_not_a_name() {
        let cases = [
            ("postgresql://u@h/d", None),
            ("postgres://u:pw@h/d", None),
            ("host=::1 dbname=d", None),
            ("host=h dbname=d:x", None),
            ("shop-eu.1: host=h", Some("shop-eu.1")),
            ("my shop: host=h", None),
        ];
        for (line, name) in cases {
            assert_eq!(split_name(line).map(|(n, _)| n), name, "{line}");
        }
    }

    #[test]
    fn names_default_to_the_target_without_its_password_and_stay_unique() {
        let listed = vec![
            ListedTarget::connection("postgresql://app:s3cret@db1:5433/shop"),
            ListedTarget::connection("host=db2 dbname=crm user=ops password=hunter2"),
            ListedTarget {
                name: Some("Shop EU".into()),
                ..ListedTarget::connection("host=db3 dbname=shop")
            },
            ListedTarget {
                name: Some("Shop EU".into()),
                ..ListedTarget::connection("host=db4 dbname=shop")
            },
            ListedTarget::connection("postgresql://app:s3cret@db1:5433/shop"),
            ListedTarget::connection("postgresql://app:s3cret@[broken"),
        ];
        let targets = name_targets(listed);
        let got: Vec<(&str, &str)> = targets
            .iter()
            .map(|t| (t.name.as_str(), t.slug.as_str()))
            .collect();
        assert_eq!(got[0], ("app@db1:5433/shop", "app-db1-5433-shop"));
        assert_eq!(got[1], ("ops@db2:5432/crm", "ops-db2-5432-crm"));
        assert_eq!(got[2], ("Shop EU", "shop-eu"));
        assert_eq!(got[3], ("Shop EU (2)", "shop-eu-2"));
        assert_eq!(got[4], ("app@db1:5433/shop (2)", "app-db1-5433-shop-2"));
        for t in &targets {
            for secret in ["s3cret", "hunter2"] {
                assert!(!t.name.contains(secret), "{}", t.name);
                assert!(!format!("{t:?}").contains(secret), "{t:?}");
            }
        }
    }

    #[test]
    fn slugs_are_safe_folder_names() {
        let cases = [
            ("Shop EU", "shop-eu"),
            ("../../etc", "etc"),
            ("ünïcode", "n-code"),
            ("---", "target"),
            ("a/b\\c", "a-b-c"),
        ];
        for (name, expected) in cases {
            assert_eq!(slug(name), expected, "{name}");
        }
        assert!(slug(&"x".repeat(200)).len() <= 60);
    }
}
