//! A deterministic synthetic workload for the analysis benchmark: a Snapshot
//! with 200 tables of realistic column mixes and pg_stats, their indexes and
//! foreign keys, and 5,000 distinct pg_stat_statements entries with a heavy
//! tail of calls and time. The same seed always gives the same snapshot, so
//! numbers from different machines and commits compare.
//!
//! [`GeneratedWorkload::to_sql`] writes the same schema and statements as SQL
//! (DDL, then one `PREPARE` per preparable statement) so a real server can load
//! them for the verified-scan benchmark.
//!
//! Shared by `benches/analyze.rs`; tests may include it with `#[path]`.

#![allow(dead_code)]

use pgadvise::snapshot::{
    ActivitySample, Column, ColumnStats, DatabaseStats, Extension, ForeignKey, Index,
    IndexConstraint, IndexKey, IndexStats, QualifiedName, Server, Setting, Snapshot, Source,
    Statement, StatementStats, Table, TableKind, TableStats, FORMAT_VERSION,
};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

pub const SEED: u64 = 0x5eed_0fa1_1ce5;
pub const TABLE_COUNT: usize = 200;
pub const STATEMENT_COUNT: usize = 5_000;

/// xorshift64*: small, fast, and enough for shaping test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Log-uniform in [low, high): table sizes spread over orders of magnitude.
    pub fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        (low.ln() + self.unit() * (high.ln() - low.ln())).exp()
    }

    /// Pareto with shape `alpha` and minimum `min`: the heavy tail of calls.
    pub fn pareto(&mut self, min: f64, alpha: f64) -> f64 {
        min / (1.0 - self.unit()).powf(1.0 / alpha)
    }
}

/// What kind of column, which decides its type, its statistics and how
/// statements use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    Id,
    /// References the table at this position in `tables`.
    ForeignKey(usize),
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    Status,
    Flag,
    Name,
    Email,
    Amount,
    Payload,
}

/// A generated table: the snapshot's `Table` plus what the statement generator
/// needs to know about its columns.
pub struct TableModel {
    pub name: String,
    pub reltuples: f64,
    pub columns: Vec<(String, ColumnRole)>,
}

impl TableModel {
    fn first(&self, wanted: impl Fn(ColumnRole) -> bool) -> Option<&str> {
        self.columns
            .iter()
            .find(|(_, role)| wanted(*role))
            .map(|(name, _)| name.as_str())
    }

    fn foreign_keys(&self) -> Vec<(&str, usize)> {
        self.columns
            .iter()
            .filter_map(|(name, role)| match role {
                ColumnRole::ForeignKey(target) => Some((name.as_str(), *target)),
                _ => None,
            })
            .collect()
    }

    fn has(&self, role: ColumnRole) -> bool {
        self.columns.iter().any(|(_, r)| *r == role)
    }
}

/// Whether a real server can `PREPARE` the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementClass {
    Dml,
    Utility,
    /// Deliberately outside what the analyzer parses.
    Unparseable,
}

pub struct GeneratedWorkload {
    pub snapshot: Snapshot,
    pub tables: Vec<TableModel>,
    pub statement_classes: Vec<StatementClass>,
}

const NOUNS: &[&str] = &[
    "accounts",
    "orders",
    "invoices",
    "payments",
    "events",
    "messages",
    "sessions",
    "users",
    "products",
    "carts",
    "shipments",
    "refunds",
    "tickets",
    "comments",
    "posts",
    "devices",
    "subscriptions",
    "plans",
    "coupons",
    "addresses",
];
const STATUS_VALUES: &[&str] = &[
    "active",
    "pending",
    "archived",
    "failed",
    "cancelled",
    "done",
];
const FLAG_NAMES: &[&str] = &["is_active", "is_archived", "is_verified", "is_test"];

pub fn generate(seed: u64) -> GeneratedWorkload {
    let mut rng = Rng::new(seed);
    let tables = table_models(&mut rng);
    let mut snapshot = empty_snapshot();
    for (position, model) in tables.iter().enumerate() {
        snapshot
            .tables
            .push(snapshot_table(&mut rng, position, model, &tables));
        add_indexes(&mut rng, model, &tables, &mut snapshot);
    }
    let (entries, statement_classes) = statements(&mut rng, &tables);
    snapshot.statements.entries = entries;
    GeneratedWorkload {
        snapshot,
        tables,
        statement_classes,
    }
}

fn table_models(rng: &mut Rng) -> Vec<TableModel> {
    let mut tables: Vec<TableModel> = Vec::with_capacity(TABLE_COUNT);
    for position in 0..TABLE_COUNT {
        let noun = NOUNS[position % NOUNS.len()];
        let name = format!("{noun}_{:03}", position / NOUNS.len());
        let mut columns = vec![("id".to_string(), ColumnRole::Id)];
        // Foreign keys point at earlier tables, as migrations create them.
        let fk_count = if position == 0 { 0 } else { rng.below(4) };
        for _ in 0..fk_count {
            let target = rng.below(position);
            let column = format!("{}_id", tables[target].name);
            if !columns.iter().any(|(c, _)| *c == column) {
                columns.push((column, ColumnRole::ForeignKey(target)));
            }
        }
        columns.push(("created_at".into(), ColumnRole::CreatedAt));
        if rng.chance(0.7) {
            columns.push(("updated_at".into(), ColumnRole::UpdatedAt));
        }
        if rng.chance(0.4) {
            columns.push(("deleted_at".into(), ColumnRole::DeletedAt));
        }
        if rng.chance(0.7) {
            columns.push(("status".into(), ColumnRole::Status));
        }
        for flag in FLAG_NAMES {
            if rng.chance(0.25) {
                columns.push(((*flag).into(), ColumnRole::Flag));
            }
        }
        if rng.chance(0.5) {
            columns.push(("name".into(), ColumnRole::Name));
        }
        if rng.chance(0.2) {
            columns.push(("email".into(), ColumnRole::Email));
        }
        if rng.chance(0.5) {
            columns.push(("amount_cents".into(), ColumnRole::Amount));
        }
        if rng.chance(0.3) {
            columns.push(("payload".into(), ColumnRole::Payload));
        }
        tables.push(TableModel {
            name,
            reltuples: rng.log_uniform(10_000.0, 10_000_000.0).round(),
            columns,
        });
    }
    tables
}

fn data_type(role: ColumnRole) -> &'static str {
    match role {
        ColumnRole::Id | ColumnRole::ForeignKey(_) => "bigint",
        ColumnRole::CreatedAt | ColumnRole::UpdatedAt | ColumnRole::DeletedAt => {
            "timestamp with time zone"
        }
        ColumnRole::Status | ColumnRole::Name | ColumnRole::Email => "text",
        ColumnRole::Flag => "boolean",
        ColumnRole::Amount => "integer",
        ColumnRole::Payload => "jsonb",
    }
}

fn not_null(role: ColumnRole) -> bool {
    !matches!(
        role,
        ColumnRole::UpdatedAt | ColumnRole::DeletedAt | ColumnRole::Name | ColumnRole::Payload
    )
}

/// pg_stats as ANALYZE would write it for a column of this role.
fn column_stats(rng: &mut Rng, role: ColumnRole, rows: f64, tables: &[TableModel]) -> ColumnStats {
    let histogram = |rng: &mut Rng, low: i64, high: i64| -> Vec<Option<String>> {
        let mut bounds: Vec<i64> = (0..101)
            .map(|_| low + (rng.unit() * (high - low) as f64) as i64)
            .collect();
        bounds.sort_unstable();
        bounds.into_iter().map(|b| Some(b.to_string())).collect()
    };
    let timestamps = |rng: &mut Rng| -> Vec<Option<String>> {
        let mut days: Vec<u32> = (0..101).map(|_| rng.below(730) as u32).collect();
        days.sort_unstable();
        // Sorted days as sortable text; every day of month kept at 28 or below so all are valid dates.
        days.into_iter()
            .map(|d| {
                let day_of_year = d % 365;
                Some(format!(
                    "{}-{:02}-{:02} {:02}:00:00+00",
                    2023 + d / 365,
                    1 + day_of_year / 31,
                    1 + (day_of_year % 31).min(27),
                    d % 24
                ))
            })
            .collect()
    };
    let plain = |null_frac: f64, avg_width: i32, n_distinct: f64| ColumnStats {
        null_frac,
        avg_width,
        n_distinct,
        most_common_vals: Vec::new(),
        most_common_freqs: Vec::new(),
        histogram_bounds: Vec::new(),
        correlation: None,
        ..ColumnStats::default()
    };
    match role {
        ColumnRole::Id => ColumnStats {
            histogram_bounds: histogram(rng, 1, rows as i64),
            correlation: Some(1.0),
            ..plain(0.0, 8, -1.0)
        },
        ColumnRole::ForeignKey(target) => {
            let parents = tables[target].reltuples.min(rows);
            // A few parents own much of the data: MCVs with skewed frequencies.
            let mcv_count = rng.below(8);
            let mut freqs: Vec<f64> = (0..mcv_count)
                .map(|i| 0.02 / (i as f64 + 1.0) * (1.0 + rng.unit()))
                .collect();
            freqs.sort_by(|a, b| b.total_cmp(a));
            ColumnStats {
                most_common_vals: (0..mcv_count)
                    .map(|_| Some(rng.below(parents as usize).to_string()))
                    .collect(),
                most_common_freqs: freqs,
                histogram_bounds: histogram(rng, 1, parents as i64),
                correlation: Some(rng.unit() * 0.4 - 0.2),
                ..plain(0.0, 8, parents.max(1.0))
            }
        }
        ColumnRole::CreatedAt | ColumnRole::UpdatedAt => ColumnStats {
            histogram_bounds: timestamps(rng),
            correlation: Some(if role == ColumnRole::CreatedAt {
                0.95 + rng.unit() * 0.05
            } else {
                rng.unit() * 0.6
            }),
            ..plain(
                if role == ColumnRole::UpdatedAt {
                    rng.unit() * 0.3
                } else {
                    0.0
                },
                8,
                -(0.8 + rng.unit() * 0.2),
            )
        },
        ColumnRole::DeletedAt => ColumnStats {
            histogram_bounds: timestamps(rng),
            correlation: Some(0.5),
            ..plain(0.85 + rng.unit() * 0.14, 8, -(rng.unit() * 0.1))
        },
        ColumnRole::Status => {
            let count = 3 + rng.below(STATUS_VALUES.len() - 2);
            let mut weights: Vec<f64> = (0..count).map(|i| 1.0 / (i as f64 + 0.5)).collect();
            let total: f64 = weights.iter().sum();
            weights.iter_mut().for_each(|w| *w /= total);
            ColumnStats {
                most_common_vals: STATUS_VALUES[..count]
                    .iter()
                    .map(|v| Some((*v).to_string()))
                    .collect(),
                most_common_freqs: weights,
                correlation: Some(rng.unit() * 0.2),
                ..plain(0.0, 7, count as f64)
            }
        }
        ColumnRole::Flag => {
            let true_frac = rng.unit() * 0.3;
            ColumnStats {
                most_common_vals: vec![Some("f".into()), Some("t".into())],
                most_common_freqs: vec![1.0 - true_frac, true_frac],
                correlation: Some(0.6),
                ..plain(0.0, 1, 2.0)
            }
        }
        ColumnRole::Name => plain(rng.unit() * 0.2, 14, -(0.3 + rng.unit() * 0.5)),
        ColumnRole::Email => plain(0.0, 24, -1.0),
        ColumnRole::Amount => ColumnStats {
            histogram_bounds: histogram(rng, 100, 500_000),
            correlation: Some(rng.unit() * 0.1),
            ..plain(0.0, 4, 20_000.0f64.min(rows / 2.0))
        },
        ColumnRole::Payload => plain(0.05, 180, -0.9),
    }
}

fn snapshot_table(
    rng: &mut Rng,
    position: usize,
    model: &TableModel,
    tables: &[TableModel],
) -> Table {
    let rows = model.reltuples;
    let columns: Vec<Column> = model
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, role))| Column {
            attnum: i as i16 + 1,
            name: name.clone(),
            data_type: data_type(*role).to_string(),
            not_null: not_null(*role),
            collation: None,
            stats: Some(column_stats(rng, *role, rows, tables)),
        })
        .collect();
    let width: f64 = columns
        .iter()
        .filter_map(|c| c.stats.as_ref())
        .map(|s| f64::from(s.avg_width))
        .sum::<f64>()
        + 24.0;
    let relpages = (rows * width / 8192.0 * 1.2).ceil() as i64;
    let seq_scan = rng.pareto(1.0, 0.8).min(1e7) as i64;
    Table {
        oid: 16_384 + position as u32 * 10,
        schema: "public".into(),
        name: model.name.clone(),
        kind: TableKind::Table,
        parent: None,
        partition_key: None,
        partition_bound: None,
        reltuples: rows,
        relpages,
        relallvisible: None,
        size_bytes: relpages * 8192,
        total_size_bytes: relpages * 8192 * 2,
        options: Vec::new(),
        columns,
        stats: Some(TableStats {
            seq_scan,
            seq_tup_read: seq_scan.saturating_mul(rows as i64),
            idx_scan: Some(rng.pareto(10.0, 0.7).min(1e9) as i64),
            idx_tup_fetch: Some(rng.pareto(10.0, 0.7).min(1e9) as i64),
            n_tup_ins: rows as i64,
            n_tup_upd: (rows * rng.unit()) as i64,
            n_tup_del: (rows * rng.unit() * 0.1) as i64,
            n_tup_hot_upd: (rows * rng.unit() * 0.5) as i64,
            n_live_tup: rows as i64,
            n_dead_tup: (rows * rng.unit() * 0.05) as i64,
            n_mod_since_analyze: (rows * rng.unit() * 0.1) as i64,
            n_ins_since_vacuum: Some((rows * rng.unit() * 0.1) as i64),
            last_vacuum: None,
            last_autovacuum: Some("2025-01-01T03:00:00Z".into()),
            last_analyze: None,
            last_autoanalyze: Some("2025-01-01T03:00:00Z".into()),
            vacuum_count: 0,
            autovacuum_count: rng.below(50) as i64,
            analyze_count: 0,
            autoanalyze_count: rng.below(50) as i64,
            last_seq_scan: None,
        }),
    }
}

fn add_indexes(rng: &mut Rng, model: &TableModel, tables: &[TableModel], snapshot: &mut Snapshot) {
    let table = QualifiedName::new("public", &model.name);
    let push = |rng: &mut Rng,
                snapshot: &mut Snapshot,
                name: String,
                keys: &[(&str, bool)],
                predicate: Option<&str>,
                primary: bool,
                unique: bool| {
        let key_text: Vec<String> = keys
            .iter()
            .map(|(c, desc)| {
                if *desc {
                    format!("{c} DESC")
                } else {
                    (*c).to_string()
                }
            })
            .collect();
        let definition = format!(
            "CREATE {}INDEX {name} ON public.{} USING btree ({}){}",
            if unique { "UNIQUE " } else { "" },
            model.name,
            key_text.join(", "),
            predicate
                .map(|p| format!(" WHERE ({p})"))
                .unwrap_or_default()
        );
        let rows = model.reltuples;
        snapshot.indexes.push(Index {
            oid: 1_000_000 + snapshot.indexes.len() as u32,
            schema: "public".into(),
            name: name.clone(),
            table: table.clone(),
            definition,
            method: "btree".into(),
            keys: keys
                .iter()
                .map(|(c, desc)| IndexKey {
                    column: Some((*c).to_string()),
                    expression: None,
                    descending: *desc,
                    nulls_first: *desc,
                    opclass: None,
                    collation: None,
                })
                .collect(),
            include: Vec::new(),
            predicate: predicate.map(str::to_string),
            is_unique: unique,
            is_primary: primary,
            is_exclusion: false,
            is_valid: true,
            is_ready: true,
            is_partitioned: false,
            parent_index: None,
            constraint: primary.then(|| IndexConstraint {
                name: name.clone(),
                kind: "primary_key".into(),
            }),
            size_bytes: (rows * 16.0 * keys.len() as f64) as i64 + 8192,
            stats: Some(IndexStats {
                idx_scan: if rng.chance(0.1) {
                    0
                } else {
                    rng.pareto(1.0, 0.7).min(1e9) as i64
                },
                idx_tup_read: 0,
                idx_tup_fetch: 0,
                last_idx_scan: None,
            }),
        });
    };
    push(
        rng,
        snapshot,
        format!("{}_pkey", model.name),
        &[("id", false)],
        None,
        true,
        true,
    );
    for (column, target) in model.foreign_keys() {
        snapshot.foreign_keys.push(ForeignKey {
            name: format!("{}_{column}_fkey", model.name),
            table: table.clone(),
            columns: vec![column.to_string()],
            referenced_table: QualifiedName::new("public", &tables[target].name),
            referenced_columns: vec!["id".into()],
            definition: format!(
                "FOREIGN KEY ({column}) REFERENCES {}(id)",
                tables[target].name
            ),
            validated: true,
            referenced_index: Some(QualifiedName::new(
                "public",
                format!("{}_pkey", tables[target].name),
            )),
        });
        // Half the foreign keys are indexed; a few with the feed order too.
        if rng.chance(0.5) {
            if rng.chance(0.2) {
                push(
                    rng,
                    snapshot,
                    format!("{}_{column}_created_at_idx", model.name),
                    &[(column, false), ("created_at", true)],
                    None,
                    false,
                    false,
                );
            } else {
                push(
                    rng,
                    snapshot,
                    format!("{}_{column}_idx", model.name),
                    &[(column, false)],
                    None,
                    false,
                    false,
                );
            }
        }
    }
    if model.has(ColumnRole::Email) {
        push(
            rng,
            snapshot,
            format!("{}_email_key", model.name),
            &[("email", false)],
            None,
            false,
            true,
        );
    }
    if model.has(ColumnRole::Status) && model.has(ColumnRole::DeletedAt) && rng.chance(0.3) {
        push(
            rng,
            snapshot,
            format!("{}_status_created_at_idx", model.name),
            &[("status", false), ("created_at", false)],
            Some("deleted_at IS NULL"),
            false,
            false,
        );
    }
}

/// Statement templates, each one shape of query applications send.
fn statement_text(rng: &mut Rng, tables: &[TableModel]) -> (String, StatementClass) {
    let position = rng.below(tables.len());
    let t = &tables[position];
    let fks = t.foreign_keys();
    let soft_delete = if t.has(ColumnRole::DeletedAt) {
        " AND deleted_at IS NULL"
    } else {
        ""
    };
    let projection = |rng: &mut Rng| -> String {
        let mut columns: Vec<&str> = t
            .columns
            .iter()
            .map(|(c, _)| c.as_str())
            .filter(|_| rng.chance(0.4))
            .collect();
        if columns.is_empty() || rng.chance(0.3) {
            return "*".into();
        }
        if !columns.contains(&"id") {
            columns.insert(0, "id");
        }
        columns.join(", ")
    };
    let dml = StatementClass::Dml;
    match rng.below(100) {
        0..=17 => (
            format!("SELECT {} FROM {} WHERE id = $1", projection(rng), t.name),
            dml,
        ),
        18..=29 if !fks.is_empty() => {
            let (fk, _) = *rng.pick(&fks);
            (
                format!(
                    "SELECT {} FROM {} WHERE {fk} = $1 AND created_at >= $2 AND created_at < $3",
                    projection(rng),
                    t.name
                ),
                dml,
            )
        }
        30..=44 if !fks.is_empty() => {
            let (fk, _) = *rng.pick(&fks);
            let order = if rng.chance(0.7) { " DESC" } else { "" };
            (
                format!(
                    "SELECT {} FROM {} WHERE {fk} = $1{soft_delete} ORDER BY created_at{order} LIMIT $2",
                    projection(rng),
                    t.name
                ),
                dml,
            )
        }
        45..=52 => match t.first(|r| r == ColumnRole::Flag) {
            Some(flag) => {
                // pg_stat_statements numbers parameters in order of appearance.
                let (status, limit) = if t.has(ColumnRole::Status) {
                    (" AND status = $1", "$2")
                } else {
                    ("", "$1")
                };
                (
                    format!(
                        "SELECT {} FROM {} WHERE {flag}{status}{soft_delete} ORDER BY id LIMIT {limit}",
                        projection(rng),
                        t.name
                    ),
                    dml,
                )
            }
            None => (
                format!(
                    "SELECT count(*) FROM {} WHERE created_at >= $1{soft_delete}",
                    t.name
                ),
                dml,
            ),
        },
        53..=62 if !fks.is_empty() => {
            // Two or three tables joined along foreign keys.
            let (fk, parent) = *rng.pick(&fks);
            let p = &tables[parent];
            let grandparent = p.foreign_keys().first().copied();
            match grandparent {
                Some((pfk, g)) if rng.chance(0.4) => (
                    format!(
                        "SELECT c.id, c.created_at, p.id AS parent_id, g.id AS root_id FROM {} c \
                         JOIN {} p ON p.id = c.{fk} JOIN {} g ON g.id = p.{pfk} \
                         WHERE g.id = $1 ORDER BY c.created_at DESC LIMIT $2",
                        t.name, p.name, tables[g].name
                    ),
                    dml,
                ),
                _ => (
                    format!(
                        "SELECT c.*, p.created_at AS parent_created_at FROM {} c JOIN {} p ON p.id = c.{fk} \
                         WHERE p.id = $1{}",
                        t.name,
                        p.name,
                        if soft_delete.is_empty() {
                            ""
                        } else {
                            " AND c.deleted_at IS NULL"
                        }
                    ),
                    dml,
                ),
            }
        }
        63..=69 => match (rng.chance(0.5), t.first(|r| r == ColumnRole::Status)) {
            (true, Some(status)) => (
                format!(
                    "SELECT id, {status} FROM {} WHERE {status} IN ($1, $2, $3) AND created_at < $4",
                    t.name
                ),
                dml,
            ),
            _ => (
                format!(
                    "SELECT {} FROM {} WHERE id = ANY($1)",
                    projection(rng),
                    t.name
                ),
                dml,
            ),
        },
        70..=79 => {
            let set = match (t.first(|r| r == ColumnRole::Status), t.has(ColumnRole::UpdatedAt)) {
                (Some(status), true) => format!("{status} = $1, updated_at = now()"),
                (Some(status), false) => format!("{status} = $1"),
                (None, _) => "created_at = $1".into(),
            };
            (format!("UPDATE {} SET {set} WHERE id = $2", t.name), dml)
        }
        80..=83 => match t.first(|r| r == ColumnRole::DeletedAt) {
            Some(deleted) => (
                format!("UPDATE {} SET {deleted} = now() WHERE id = $1", t.name),
                dml,
            ),
            None => (format!("DELETE FROM {} WHERE id = $1", t.name), dml),
        },
        84..=91 => {
            let columns: Vec<&str> = t
                .columns
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| *c != "id" || rng.chance(0.3))
                .collect();
            let params: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
            let returning = if columns.contains(&"id") {
                ""
            } else {
                " RETURNING id"
            };
            (
                format!(
                    "INSERT INTO {} ({}) VALUES ({}){returning}",
                    t.name,
                    columns.join(", "),
                    params.join(", ")
                ),
                dml,
            )
        }
        92..=96 => {
            // Maintenance and session statements: the analyzer skips them.
            let utility = [
                format!("VACUUM ANALYZE {}", t.name),
                format!("ANALYZE {}", t.name),
                format!("LOCK TABLE {} IN SHARE MODE", t.name),
                format!("TRUNCATE {}", t.name),
                format!("CREATE TEMPORARY TABLE tmp_{} (LIKE {})", t.name, t.name),
                format!("DO $$ BEGIN PERFORM 1 FROM {} LIMIT 1; END $$", t.name),
                format!("FETCH FORWARD 100 FROM cursor_{}", t.name),
            ];
            (rng.pick(&utility).clone(), StatementClass::Utility)
        }
        97..=99 => {
            // Texts the analyzer cannot take apart: MERGE, and ORM output nested
            // past the parser's recursion limit.
            let unparseable = [
                format!(
                    "MERGE INTO {} AS target USING (SELECT $1::bigint AS id) AS source \
                     ON target.id = source.id WHEN MATCHED THEN DELETE",
                    t.name
                ),
                format!(
                    "SELECT id FROM {} WHERE {}id = $1{}",
                    t.name,
                    "(".repeat(300),
                    ")".repeat(300)
                ),
            ];
            (rng.pick(&unparseable).clone(), StatementClass::Unparseable)
        }
        _ => (
            format!(
                "SELECT {} FROM {} WHERE created_at >= $1{soft_delete} ORDER BY created_at LIMIT $2",
                projection(rng),
                t.name
            ),
            dml,
        ),
    }
}

fn statements(rng: &mut Rng, tables: &[TableModel]) -> (Vec<Statement>, Vec<StatementClass>) {
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(STATEMENT_COUNT);
    let mut classes = Vec::with_capacity(STATEMENT_COUNT);
    // The template space holds far more than 5,000 texts; duplicates are skipped.
    while entries.len() < STATEMENT_COUNT {
        let (query, class) = statement_text(rng, tables);
        if !seen.insert(query.clone()) {
            continue;
        }
        let calls = rng.pareto(1.0, 0.9).min(5e8).round() as i64;
        let mean = rng.pareto(0.02, 1.2).min(60_000.0);
        let rows_per_call = if query.contains("LIMIT") { 20 } else { 1 };
        entries.push(Statement {
            queryid: rng.next_u64() as i64,
            user: "app".into(),
            query,
            toplevel: Some(true),
            calls,
            total_exec_time: mean * calls as f64,
            mean_exec_time: mean,
            min_exec_time: mean * 0.3,
            max_exec_time: mean * 20.0,
            stddev_exec_time: mean * 0.8,
            plans: Some(0),
            total_plan_time: Some(0.0),
            rows: calls * rows_per_call,
            shared_blks_hit: calls * 4,
            shared_blks_read: calls / 10,
            shared_blks_dirtied: 0,
            shared_blks_written: 0,
            temp_blks_read: 0,
            temp_blks_written: 0,
            shared_blk_read_time: 0.0,
            wal_records: Some(0),
            wal_bytes: Some(0.0),
        });
        classes.push(class);
    }
    // pg_stat_statements as the collector orders it: heaviest total time first.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        entries[b]
            .total_exec_time
            .total_cmp(&entries[a].total_exec_time)
    });
    let entries_sorted = order.iter().map(|&i| entries[i].clone()).collect();
    let classes_sorted = order.iter().map(|&i| classes[i]).collect();
    (entries_sorted, classes_sorted)
}

fn empty_snapshot() -> Snapshot {
    let setting = |value: &str, unit: Option<&str>| Setting {
        setting: value.into(),
        unit: unit.map(str::to_string),
        source: "configuration file".into(),
    };
    let settings: BTreeMap<String, Setting> = [
        ("max_connections", setting("200", None)),
        ("shared_buffers", setting("524288", Some("8kB"))),
        ("work_mem", setting("4096", Some("kB"))),
        ("random_page_cost", setting("1.1", None)),
        (
            "shared_preload_libraries",
            setting("pg_stat_statements", None),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Snapshot {
        format_version: FORMAT_VERSION,
        pgadvise_version: "bench".into(),
        collected_at: "2025-01-01T12:00:00Z".into(),
        source: Source {
            target: "bench@synthetic:5432/app".into(),
            database: "app".into(),
            user: "bench".into(),
            in_recovery: false,
            ..Source::default()
        },
        server: Server {
            version: "15.8".into(),
            version_num: 150008,
        },
        settings,
        extensions: vec![Extension {
            name: "pg_stat_statements".into(),
            version: "1.10".into(),
            schema: "public".into(),
        }],
        available_extensions: Vec::new(),
        operator_classes: Vec::new(),
        database_collation: None,
        search_path: vec!["public".into()],
        statements: StatementStats {
            extension_version: "1.10".into(),
            max_entries: Some(10_000),
            dealloc: Some(0),
            stats_reset: None,
            hidden_count: 0,
            entries: Vec::new(),
        },
        tables: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        views: Vec::new(),
        activity: ActivitySample {
            sampled_at: "2025-01-01T12:00:00Z".into(),
            sessions: Vec::new(),
        },
        database: DatabaseStats {
            numbackends: 20,
            xact_commit: 1_000_000,
            xact_rollback: 100,
            blks_read: 1_000,
            blks_hit: 100_000,
            tup_returned: 0,
            tup_fetched: 0,
            tup_inserted: 0,
            tup_updated: 0,
            tup_deleted: 0,
            temp_files: 0,
            temp_bytes: 0,
            deadlocks: 0,
            stats_reset: None,
            session_time: None,
            active_time: None,
            idle_in_transaction_time: None,
            sessions: None,
            sessions_abandoned: None,
            sessions_fatal: None,
            sessions_killed: None,
        },
        warnings: Vec::new(),
        pool_window: None,
    }
}

impl GeneratedWorkload {
    /// The schema as DDL, then each statement: `PREPARE` for the ones a server
    /// can prepare (with their pg_stat_statements counters in a comment), the
    /// utility and unparseable ones as comments only.
    pub fn to_sql(&self) -> String {
        format!(
            "-- pgadvise benchmark workload (benches/support/workload_gen.rs)\n{}{}",
            self.schema_sql(),
            self.statements_sql()
        )
    }

    /// Tables, secondary indexes and foreign keys.
    pub fn schema_sql(&self) -> String {
        let mut sql = String::new();
        for table in &self.snapshot.tables {
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let mut column = format!("    {} {}", c.name, c.data_type);
                    if c.name == "id" {
                        column.push_str(" PRIMARY KEY");
                    } else if c.not_null {
                        column.push_str(" NOT NULL");
                    }
                    column
                })
                .collect();
            let _ = writeln!(
                sql,
                "CREATE TABLE {} (\n{}\n);",
                table.name,
                columns.join(",\n")
            );
        }
        for index in self.snapshot.indexes.iter().filter(|i| !i.is_primary) {
            let _ = writeln!(sql, "{};", index.definition);
        }
        for fk in &self.snapshot.foreign_keys {
            let _ = writeln!(
                sql,
                "ALTER TABLE {} ADD CONSTRAINT {} {};",
                fk.table.name, fk.name, fk.definition
            );
        }
        sql
    }

    /// Rows for every table, so a real server plans against real statistics:
    /// `reltuples / divisor` rows each (at least `min_rows`), values shaped
    /// like the generated pg_stats (skewed foreign keys, mostly-NULL
    /// `deleted_at`, a few common statuses, rare flags, `created_at`
    /// correlated with `id`). Foreign key values stay within the parent's
    /// rows, so the constraints of [`Self::schema_sql`] hold.
    pub fn data_sql(&self, divisor: f64, min_rows: u64) -> String {
        let rows: Vec<u64> = self
            .tables
            .iter()
            .map(|t| ((t.reltuples / divisor).round() as u64).max(min_rows))
            .collect();
        let statuses = STATUS_VALUES
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(",");
        let mut sql = String::new();
        for (position, table) in self.tables.iter().enumerate() {
            let names: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
            let values: Vec<String> = table
                .columns
                .iter()
                .map(|(_, role)| match role {
                    ColumnRole::Id => "g".to_string(),
                    // Cubing a uniform value skews towards the parent's first rows.
                    ColumnRole::ForeignKey(target) => format!(
                        "1 + floor(power(random(), 3) * {})::bigint",
                        rows[*target].saturating_sub(1)
                    ),
                    ColumnRole::CreatedAt => {
                        "timestamptz '2026-01-01' + g * interval '1 second'".to_string()
                    }
                    ColumnRole::UpdatedAt => {
                        "timestamptz '2026-01-01' + random() * interval '300 days'".to_string()
                    }
                    ColumnRole::DeletedAt => "CASE WHEN random() < 0.05 \
                         THEN timestamptz '2026-06-01' + random() * interval '100 days' END"
                        .to_string(),
                    ColumnRole::Status => format!(
                        "(ARRAY[{statuses}])[1 + floor(power(random(), 2) * {})::int]",
                        STATUS_VALUES.len()
                    ),
                    ColumnRole::Flag => "random() < 0.1".to_string(),
                    ColumnRole::Name => "'name ' || (g % 5000)".to_string(),
                    ColumnRole::Email => "'user' || g || '@example.com'".to_string(),
                    ColumnRole::Amount => "floor(random() * 100000)::int".to_string(),
                    ColumnRole::Payload => "jsonb_build_object('n', g)".to_string(),
                })
                .collect();
            let _ = writeln!(
                sql,
                "INSERT INTO {} ({}) SELECT {} FROM generate_series(1, {}) g;",
                table.name,
                names.join(", "),
                values.join(", "),
                rows[position]
            );
        }
        sql
    }

    /// One `PREPARE bench_N` per preparable statement, the rest as comments.
    pub fn statements_sql(&self) -> String {
        let mut sql = String::new();
        for (n, (statement, class)) in self
            .snapshot
            .statements
            .entries
            .iter()
            .zip(&self.statement_classes)
            .enumerate()
        {
            let _ = writeln!(
                sql,
                "-- calls: {}, mean_exec_time_ms: {:.3}",
                statement.calls, statement.mean_exec_time
            );
            match class {
                StatementClass::Dml => {
                    let _ = writeln!(sql, "PREPARE bench_{n} AS {};", statement.query);
                }
                StatementClass::Utility | StatementClass::Unparseable => {
                    let _ = writeln!(sql, "-- not preparable: {}", statement.query);
                }
            }
        }
        sql
    }
}
