//! Index names and DDL, written by pgadvise itself (never from a parser's AST),
//! with every identifier quoted exactly where PostgreSQL needs it.

use super::candidate::{CandidateKey, KeyTarget, PartialPredicate};
use super::method::AccessMethod;
use crate::ident;
use crate::snapshot::QualifiedName;

/// PostgreSQL truncates identifiers longer than this many bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `created_at DESC`, `lower(email)`, `"Order Id" NULLS FIRST`.
pub fn key_sql(key: &CandidateKey) -> String {
    let mut text = match &key.key {
        KeyTarget::Column(c) => ident::quote(c),
        KeyTarget::Expression(sql) => format!("({sql})"),
    };
    if let Some(opclass) = &key.opclass {
        text.push(' ');
        text.push_str(&ident::quote(opclass));
    }
    if key.descending {
        text.push_str(" DESC");
    }
    if key.nulls_reversed {
        text.push_str(if key.descending {
            " NULLS LAST"
        } else {
            " NULLS FIRST"
        });
    }
    text
}

/// The key as the JSON report lists it: the bare column name or expression,
/// with ` DESC` (and NULLS order) where not the default.
pub fn key_label(key: &CandidateKey) -> String {
    let mut text = match &key.key {
        KeyTarget::Column(c) => c.clone(),
        KeyTarget::Expression(sql) => sql.clone(),
    };
    if let Some(opclass) = &key.opclass {
        text.push(' ');
        text.push_str(opclass);
    }
    if key.descending {
        text.push_str(" DESC");
    }
    if key.nulls_reversed {
        text.push_str(if key.descending {
            " NULLS LAST"
        } else {
            " NULLS FIRST"
        });
    }
    text
}

pub fn predicate_sql(predicates: &[PartialPredicate]) -> Option<String> {
    if predicates.is_empty() {
        return None;
    }
    let parts: Vec<String> = predicates
        .iter()
        .map(|p| match p {
            PartialPredicate::IsNull(c) => format!("{} IS NULL", ident::quote(c)),
            PartialPredicate::IsNotNull(c) => format!("{} IS NOT NULL", ident::quote(c)),
            PartialPredicate::IsTrue(c) => ident::quote(c),
            PartialPredicate::IsFalse(c) => format!("NOT {}", ident::quote(c)),
        })
        .collect();
    Some(parts.join(" AND "))
}

/// A deterministic name: `<table>_<keys>[_<predicate>]_idx`, made of lower-case
/// ASCII so it never needs quoting, shortened with a hash to fit 63 bytes, and
/// different from every name in `taken`.
pub fn index_name(
    table: &QualifiedName,
    keys: &[CandidateKey],
    predicates: &[PartialPredicate],
    taken: &dyn Fn(&str) -> bool,
) -> String {
    index_name_using(AccessMethod::Btree, table, keys, predicates, taken)
}

/// [`index_name`] for any method: other methods than btree add their name
/// (`products_specs_gin_idx`), so a GIN and a btree on one column differ.
pub fn index_name_using(
    method: AccessMethod,
    table: &QualifiedName,
    keys: &[CandidateKey],
    predicates: &[PartialPredicate],
    taken: &dyn Fn(&str) -> bool,
) -> String {
    let mut parts = vec![slug(&table.name)];
    for k in keys {
        parts.push(match &k.key {
            KeyTarget::Column(c) => slug(c),
            KeyTarget::Expression(sql) => slug(sql),
        });
    }
    if method != AccessMethod::Btree {
        parts.push(method.as_str().to_string());
    }
    for p in predicates {
        let (column, what) = match p {
            PartialPredicate::IsNull(c) => (c, "null"),
            PartialPredicate::IsNotNull(c) => (c, "notnull"),
            PartialPredicate::IsTrue(c) => (c, "true"),
            PartialPredicate::IsFalse(c) => (c, "false"),
        };
        parts.push(format!("{}_{what}", slug(column)));
    }
    let full: String = parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let base = fit(&format!("{full}_idx"), &full);
    if !taken(&base) {
        return base;
    }
    // Another object has this name: add a counter, still within 63 bytes.
    (2..1000)
        .map(|n| fit(&format!("{full}_idx{n}"), &format!("{full}{n}")))
        .find(|name| !taken(name))
        .unwrap_or(base)
}

/// `name` if it fits; otherwise a prefix of it plus a hash of `seed`.
pub(crate) fn fit(name: &str, seed: &str) -> String {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name.to_string();
    }
    let hash = format!("{:08x}", crate::hash::fnv1a_32(seed));
    let keep = MAX_IDENTIFIER_BYTES - hash.len() - "__idx".len();
    let prefix: String = name.chars().take(keep).collect();
    format!("{}_{hash}_idx", prefix.trim_end_matches('_'))
}

/// Lower-case ASCII letters, digits and single underscores.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// How an index stores its keys: the access method and its storage parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Storage {
    pub method: AccessMethod,
    /// BRIN's `pages_per_range`, written as `WITH (pages_per_range = n)`.
    pub pages_per_range: Option<u32>,
}

impl Storage {
    pub fn btree() -> Storage {
        Storage::default()
    }

    pub fn of(method: AccessMethod) -> Storage {
        Storage {
            method,
            pages_per_range: None,
        }
    }

    /// `WITH (pages_per_range = 32)`, or nothing.
    pub fn with_clause(&self) -> Option<String> {
        self.pages_per_range
            .map(|n| format!("WITH (pages_per_range = {n})"))
    }
}

/// The migration statement: concurrent, idempotent, explicit method.
pub fn create_index_sql(
    name: &str,
    table: &QualifiedName,
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    create_index_sql_using(Storage::btree(), name, table, keys, include, predicates)
}

/// [`create_index_sql`] for any method.
pub fn create_index_sql_using(
    storage: Storage,
    name: &str,
    table: &QualifiedName,
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    format!(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {table} {}",
        ident::quote(name),
        definition_tail_using(storage, keys, include, predicates)
    )
}

/// The form hypopg takes: no name, no CONCURRENTLY, no IF NOT EXISTS.
pub fn hypothetical_index_sql(
    table: &QualifiedName,
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    hypothetical_index_sql_using(Storage::btree(), table, keys, include, predicates)
}

/// [`hypothetical_index_sql`] for any method.
pub fn hypothetical_index_sql_using(
    storage: Storage,
    table: &QualifiedName,
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    format!(
        "CREATE INDEX ON {table} {}",
        definition_tail_using(storage, keys, include, predicates)
    )
}

/// What follows the table in the definition: `USING btree (...)`, INCLUDE, WHERE.
pub fn definition_tail(
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    definition_tail_using(Storage::btree(), keys, include, predicates)
}

/// [`definition_tail`] for any method: `USING gin (specs jsonb_path_ops)`,
/// `USING brin (created_at) WITH (pages_per_range = 32)`.
pub fn definition_tail_using(
    storage: Storage,
    keys: &[CandidateKey],
    include: &[String],
    predicates: &[PartialPredicate],
) -> String {
    let mut sql = format!(
        "USING {} ({})",
        storage.method,
        keys.iter().map(key_sql).collect::<Vec<_>>().join(", ")
    );
    if !include.is_empty() {
        let cols: Vec<String> = include.iter().map(|c| ident::quote(c)).collect();
        sql.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
    }
    if let Some(with) = storage.with_clause() {
        sql.push(' ');
        sql.push_str(&with);
    }
    if let Some(pred) = predicate_sql(predicates) {
        sql.push_str(&format!(" WHERE {pred}"));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, descending: bool) -> CandidateKey {
        CandidateKey {
            key: KeyTarget::Column(name.into()),
            descending,
            nulls_reversed: false,
            opclass: None,
        }
    }

    #[test]
    fn ddl_quotes_only_where_needed() {
        let table = QualifiedName::new("public", "messages");
        let keys = [col("conversation_id", false), col("created_at", true)];
        let preds = [PartialPredicate::IsNull("deleted_at".into())];
        let name = index_name(&table, &keys, &preds, &|_| false);
        assert_eq!(
            name,
            "messages_conversation_id_created_at_deleted_at_null_idx"
        );
        assert_eq!(
            create_index_sql(&name, &table, &keys, &[], &preds),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_conversation_id_created_at_deleted_at_null_idx \
             ON public.messages USING btree (conversation_id, created_at DESC) WHERE deleted_at IS NULL"
        );
        assert_eq!(
            hypothetical_index_sql(&table, &keys, &[], &preds),
            "CREATE INDEX ON public.messages USING btree (conversation_id, created_at DESC) WHERE deleted_at IS NULL"
        );

        let odd = QualifiedName::new("Sales Dept", "Order");
        let keys = [col("User Id", false), col("select", false)];
        let preds = [PartialPredicate::IsFalse("Archived".into())];
        let name = index_name(&odd, &keys, &preds, &|_| false);
        assert_eq!(name, "order_user_id_select_archived_false_idx");
        assert_eq!(
            create_index_sql(&name, &odd, &keys, &["Größe".to_string()], &preds),
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_user_id_select_archived_false_idx \
             ON \"Sales Dept\".\"Order\" USING btree (\"User Id\", \"select\") INCLUDE (\"Größe\") WHERE NOT \"Archived\""
        );
    }

    #[test]
    fn names_fit_63_bytes_and_avoid_collisions() {
        let table = QualifiedName::new("public", "very_long_table_name_".repeat(4));
        let keys = [
            col(&"a_really_long_column_name".repeat(2), false),
            col("another_column", true),
        ];
        let name = index_name(&table, &keys, &[], &|_| false);
        assert!(name.len() <= MAX_IDENTIFIER_BYTES, "{name}");
        assert!(name.ends_with("_idx"));
        // Deterministic.
        assert_eq!(name, index_name(&table, &keys, &[], &|_| false));

        let short = QualifiedName::new("public", "t");
        let taken = |n: &str| n == "t_a_idx";
        assert_eq!(
            index_name(&short, &[col("a", false)], &[], &taken),
            "t_a_idx2"
        );
    }

    #[test]
    fn keys_render_direction_and_nulls() {
        let mut k = col("created_at", true);
        assert_eq!(key_sql(&k), "created_at DESC");
        k.nulls_reversed = true;
        assert_eq!(key_sql(&k), "created_at DESC NULLS LAST");
        assert_eq!(key_label(&k), "created_at DESC NULLS LAST");
        let e = CandidateKey {
            key: KeyTarget::Expression("lower(email)".into()),
            descending: false,
            nulls_reversed: false,
            opclass: None,
        };
        assert_eq!(key_sql(&e), "(lower(email))");
        assert_eq!(key_label(&e), "lower(email)");
    }
}
