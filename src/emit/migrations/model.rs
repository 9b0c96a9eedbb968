//! The format-neutral migration: its steps, index definitions and session
//! settings, and the files a format renders it into.

use crate::ident;
use crate::snapshot::QualifiedName;

/// One index, described for the formats that build DDL themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub table: QualifiedName,
    /// `ON ONLY parent`: a partitioned table's index, without its partitions.
    pub only: bool,
    pub concurrently: bool,
    pub method: String,
    /// Keys as SQL (`created_at DESC`, `(lower(email))`), quoted as needed.
    pub keys_sql: Vec<String>,
    /// Keys as a framework describes them: a column and its direction, or
    /// `None` for an expression or a non-default NULLS order.
    pub keys: Vec<Option<(String, bool)>>,
    pub include: Vec<String>,
    /// Per key, its operator class when not the type's default
    /// (`jsonb_path_ops`); `keys_sql` already names it.
    pub opclasses: Vec<Option<String>>,
    /// BRIN's `pages_per_range` (`WITH (pages_per_range = n)`).
    pub pages_per_range: Option<u32>,
    /// The partial predicate as SQL.
    pub predicate_sql: Option<String>,
    /// The predicate as conjuncts a framework can express (column, test).
    pub predicate: Vec<PredicateTest>,
}

/// A partial-index conjunct on one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateKind {
    IsNull,
    IsNotNull,
    IsTrue,
    IsFalse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredicateTest {
    pub column: String,
    pub kind: PredicateKind,
}

impl IndexDefinition {
    /// Whether any key names an operator class.
    pub fn has_opclass(&self) -> bool {
        self.opclasses.iter().any(Option::is_some)
    }

    /// The CREATE INDEX statement, idempotent.
    pub fn sql(&self) -> String {
        let mut sql = format!(
            "CREATE INDEX {}IF NOT EXISTS {} ON {}{} USING {} ({})",
            if self.concurrently {
                "CONCURRENTLY "
            } else {
                ""
            },
            ident::quote(&self.name),
            if self.only { "ONLY " } else { "" },
            self.table,
            self.method,
            self.keys_sql.join(", ")
        );
        if !self.include.is_empty() {
            let cols: Vec<String> = self.include.iter().map(|c| ident::quote(c)).collect();
            sql.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
        }
        if let Some(n) = self.pages_per_range {
            sql.push_str(&format!(" WITH (pages_per_range = {n})"));
        }
        if let Some(p) = &self.predicate_sql {
            sql.push_str(&format!(" WHERE {p}"));
        }
        sql
    }

    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(&self.table.schema, &self.name)
    }
}

/// One statement of a migration.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateIndex(IndexDefinition),
    DropIndex {
        index: QualifiedName,
        /// The table, for frameworks that name it (`remove_index`).
        table: QualifiedName,
        concurrently: bool,
    },
    /// Any other statement, as SQL.
    Sql(String),
}

impl Step {
    pub fn sql(&self) -> String {
        match self {
            Step::CreateIndex(d) => d.sql(),
            Step::DropIndex {
                index,
                concurrently,
                ..
            } => format!(
                "DROP INDEX {}IF EXISTS {index}",
                if *concurrently { "CONCURRENTLY " } else { "" }
            ),
            Step::Sql(sql) => sql.clone(),
        }
    }

    /// Whether PostgreSQL refuses to run it inside a transaction block.
    pub fn forbids_transaction(&self) -> bool {
        match self {
            Step::CreateIndex(d) => d.concurrently,
            Step::DropIndex { concurrently, .. } => *concurrently,
            Step::Sql(_) => false,
        }
    }
}

/// A session setting the migration wants while it runs (`lock_timeout`).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSetting {
    pub name: String,
    /// The value as SQL (`'5s'`, `0`).
    pub value: String,
}

impl SessionSetting {
    pub fn set_sql(&self) -> String {
        format!("SET {} = {}", self.name, self.value)
    }

    /// `-c name=value` for libpq's `options`, value unquoted.
    pub fn option(&self) -> String {
        format!("-c {}={}", self.name, self.value.trim_matches('\''))
    }
}

/// A format-neutral migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Identity across runs, written into every file as the
    /// `pgadvise-migration:` marker: `add_index public.messages_x_idx`.
    pub id: String,
    /// File-name part: `add_messages_x_idx` (lower-case ASCII, `_`).
    pub name: String,
    /// What it is for; comment lines without the comment marker.
    pub header: Vec<String>,
    pub up: Vec<Step>,
    pub down: Vec<Step>,
    /// Settings for the session that runs it. Runners that split statements
    /// get them as `SET` in the file; the others through the connection.
    pub settings: Vec<SessionSetting>,
    /// Each statement must run alone outside a transaction: runners that send
    /// a whole file as one message get one file per up statement.
    pub statements_run_alone: bool,
}

impl Migration {
    pub fn marker(&self) -> String {
        format!("pgadvise-migration: {}", self.id)
    }

    /// The libpq `options` value carrying the settings: `-c lock_timeout=5s -c ...`.
    pub fn connection_options(&self) -> String {
        self.settings
            .iter()
            .map(SessionSetting::option)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Header lines for a file that sets the session itself.
    pub(super) fn header_with_settings_in_file(&self) -> Vec<String> {
        let mut lines = vec![self.marker()];
        lines.extend(self.header.iter().cloned());
        if !self.settings.is_empty() {
            lines.push(format!(
                "Timeouts: set at the top of this file ({}); statement_timeout 0, so no timeout cuts a long build short.",
                self.settings
                    .iter()
                    .map(SessionSetting::set_sql)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        lines
    }

    /// Header lines for a file whose runner sends it as one message.
    pub(super) fn header_with_settings_on_connection(&self, runner: &str) -> Vec<String> {
        let mut lines = vec![self.marker()];
        lines.extend(self.header.iter().cloned());
        if !self.settings.is_empty() {
            lines.push(format!(
                "Timeouts: {runner} sends this file as one message, where CONCURRENTLY fails beside a SET, \
                 so this file sets no timeout: run it on a connection with options='{}' \
                 (URL: ?options={}), or ALTER ROLE ... SET lock_timeout.",
                self.connection_options(),
                url_encode(&self.connection_options())
            ));
        }
        lines
    }
}

/// Percent-encodes for a URL query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file to write, relative to the output folder.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    pub name: String,
    pub contents: String,
}
