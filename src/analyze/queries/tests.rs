//! Tests for the query-shape extractor. Each case asserts the extracted
//! shape, not merely that the text parses.

mod constructs;
mod corpus;
mod predicates;
mod production;
mod resolution;

use super::*;

/// The database the tests run against: the production tables behind the
/// queries in `production.rs`, plus tables exercising names and kinds.
pub(super) fn catalog() -> Catalog {
    let public = |name: &str| QualifiedName::new("public", name);
    let table = |name: &str, columns: &[&str]| {
        TableDef::new(
            public(name),
            TableKind::Table,
            columns.iter().map(|c| ColumnDef::new(*c)).collect(),
        )
    };
    Catalog::new()
        .with_table(table(
            "messages",
            &["id", "conversation_id", "body", "created_at", "deleted_at"],
        ))
        .with_table(table(
            "outbox_events",
            &["id", "payload", "created_at", "published_at"],
        ))
        .with_table(table(
            "processed_messages",
            &["message_id", "consumer_group", "processed_at"],
        ))
        .with_table(TableDef::new(
            public("traffic_events"),
            TableKind::Partitioned,
            vec![
                ColumnDef::new("id"),
                ColumnDef::typed("event_date", "date"),
                ColumnDef::new("url"),
            ],
        ))
        .with_table(TableDef::new(
            public("traffic_events_2024_01"),
            TableKind::PartitionOf(public("traffic_events")),
            vec![
                ColumnDef::new("id"),
                ColumnDef::typed("event_date", "date"),
                ColumnDef::new("url"),
            ],
        ))
        .with_table(table(
            "events",
            &["id", "created_at", "user_id", "kind", "payload"],
        ))
        .with_table(TableDef::new(
            public("users"),
            TableKind::Table,
            vec![
                ColumnDef::typed("id", "integer"),
                ColumnDef::typed("email", "text"),
                ColumnDef::new("name"),
                ColumnDef::typed("active", "boolean"),
                ColumnDef::typed("archived", "boolean"),
                ColumnDef::typed("created_at", "timestamp with time zone"),
                ColumnDef::new("org_id"),
            ],
        ))
        .with_table(table(
            "orders",
            &["id", "user_id", "status", "total", "created_at"],
        ))
        .with_table(table("orgs", &["id", "name"]))
        .with_table(TableDef::new(
            public("daily_stats"),
            TableKind::MaterializedView,
            vec![ColumnDef::new("day"), ColumnDef::new("total")],
        ))
        .with_table(TableDef::new(
            QualifiedName::new("sales", "Order"),
            TableKind::Table,
            vec![
                ColumnDef::new("id"),
                ColumnDef::new("User Id"),
                ColumnDef::new("Größe"),
                ColumnDef::new("größe"),
                ColumnDef::new("select"),
            ],
        ))
        .with_table(TableDef::new(
            QualifiedName::new("app", "accounts"),
            TableKind::Table,
            vec![ColumnDef::new("id"), ColumnDef::new("owner_id")],
        ))
        .with_view(ViewDef {
            name: public("active_users"),
            columns: vec!["id".into(), "email".into(), "org_id".into()],
            definition: "SELECT users.id, users.email, users.org_id FROM users WHERE users.active"
                .into(),
        })
        .with_view(ViewDef {
            name: public("user_emails"),
            columns: vec!["user_id".into(), "email_lc".into()],
            definition: "SELECT u.id, lower(u.email) FROM users u".into(),
        })
        .with_view(ViewDef {
            name: public("recent_user_emails"),
            columns: vec!["user_id".into(), "email_lc".into()],
            definition: "SELECT user_id, email_lc FROM user_emails".into(),
        })
}

/// The shape of `sql`, failing the test with the skip reason otherwise.
pub(super) fn shape_of(sql: &str) -> QueryShape {
    analyze_statement(sql, &catalog()).unwrap_or_else(|reason| panic!("skipped ({reason}): {sql}"))
}

/// The only access of `table` in the shape.
pub(super) fn only_access<'a>(shape: &'a QueryShape, table: &str) -> &'a TableAccess {
    let found: Vec<&TableAccess> = shape
        .accesses
        .iter()
        .filter(|a| a.table.name == table)
        .collect();
    match found.as_slice() {
        [access] => access,
        other => panic!(
            "expected one access of {table}, found {}: {shape:#?}",
            other.len()
        ),
    }
}

pub(super) fn col(name: &str) -> IndexKey {
    IndexKey::column(name)
}

pub(super) fn expr_key(sql: &str, columns: &[&str]) -> IndexKey {
    IndexKey::Expression {
        sql: sql.to_string(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }
}

pub(super) fn param(index: u32) -> Operand {
    Operand::Parameter { index, cast: None }
}

pub(super) fn cast_param(index: u32, cast: &str) -> Operand {
    Operand::Parameter {
        index,
        cast: Some(cast.to_string()),
    }
}

pub(super) fn pred(key: IndexKey, op: PredicateOp, operand: Operand) -> Predicate {
    Predicate { key, op, operand }
}

pub(super) fn public(name: &str) -> QualifiedName {
    QualifiedName::new("public", name)
}
