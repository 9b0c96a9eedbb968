//! Text several formats' files share: comment lines, statement lists,
//! squawk ignores, and the split into one file per statement for runners that
//! send a whole file as one message.

use super::{Migration, Step};

/// One file's worth of a migration for a runner that sends whole files.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// File-name part: the migration's name, with `_<n>of<m>` when split.
    pub name: String,
    pub up: Vec<Step>,
    pub down: Vec<Step>,
    /// Said in the down file when this part's down is done by another part.
    pub down_note: Option<String>,
}

/// Splits a migration whose statements must run alone into one part per up
/// statement. The whole down goes with the first part (rolled back last);
/// the later parts' downs are empty, since rolling back the first undoes them.
pub(crate) fn split_for_whole_file_runner(migration: &Migration) -> Vec<Part> {
    if !migration.statements_run_alone || migration.up.len() <= 1 {
        return vec![Part {
            name: migration.name.clone(),
            up: migration.up.clone(),
            down: migration.down.clone(),
            down_note: None,
        }];
    }
    let total = migration.up.len();
    let first = format!("{}_1of{total}", migration.name);
    migration
        .up
        .iter()
        .enumerate()
        .map(|(i, step)| Part {
            name: format!("{}_{}of{total}", migration.name, i + 1),
            up: vec![step.clone()],
            down: if i == 0 {
                migration.down.clone()
            } else {
                Vec::new()
            },
            down_note: (i > 0).then(|| {
                format!("Nothing to undo here: rolling back {first} drops the whole index.")
            }),
        })
        .collect()
}

/// `-- ` comment lines.
pub(crate) fn sql_comments(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push_str("--\n");
        } else {
            for l in line.lines() {
                out.push_str(&format!("-- {l}\n"));
            }
        }
    }
    out
}

/// `# ` comment lines (Ruby, Python, properties files).
pub(crate) fn hash_comments(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            for l in line.lines() {
                out.push_str(&format!("# {l}\n"));
            }
        }
    }
    out
}

/// Statements, each ending in `;` on its own line.
pub(crate) fn statements_sql(steps: &[Step]) -> String {
    steps.iter().map(|s| format!("{};\n", s.sql())).collect()
}

/// The squawk rules a file relies on the connection for, when it sets no timeout.
pub(crate) const SQUAWK_CONNECTION_TIMEOUT_RULES: &str =
    "require-lock-timeout, require-statement-timeout";

/// A `-- squawk-ignore-file` line for what a file cannot do otherwise, with
/// the reason: no in-file timeouts where the runner sends the file as one
/// message (the header names the connection setting instead), and the
/// non-concurrent DDL PostgreSQL requires for partitioned indexes.
pub(crate) fn squawk_ignores(steps: &[Step], settings_in_file: bool) -> String {
    let mut rules = Vec::new();
    let mut reasons = Vec::new();
    if !settings_in_file && !steps.is_empty() {
        rules.push(SQUAWK_CONNECTION_TIMEOUT_RULES);
        reasons.push("timeouts come from the connection (see Timeouts below)");
    }
    if steps.iter().any(|s| {
        matches!(
            s,
            Step::DropIndex {
                concurrently: false,
                ..
            }
        )
    }) {
        rules.push("require-concurrent-index-deletion");
        reasons.push("PostgreSQL refuses DROP INDEX CONCURRENTLY on a partitioned index");
    }
    if steps
        .iter()
        .any(|s| matches!(s, Step::CreateIndex(d) if !d.concurrently))
    {
        rules.push("require-concurrent-index-creation");
        reasons.push(
            "CREATE INDEX ... ON ONLY a partitioned table builds nothing and cannot be concurrent",
        );
    }
    if rules.is_empty() {
        return String::new();
    }
    format!(
        "-- squawk-ignore-file {}
-- (squawk: {}.)
",
        rules.join(", "),
        reasons.join("; ")
    )
}
