//! The production queries pgadvise was built for, verbatim from pg_stat_statements.

use super::*;

#[test]
fn messages_page_by_conversation() {
    let shape = shape_of(
        "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2",
    );
    assert_eq!(shape.kind, StatementKind::Select);
    let messages = only_access(&shape, "messages");
    assert_eq!(
        messages.filters,
        vec![
            pred(col("conversation_id"), PredicateOp::Equal, param(1)),
            pred(col("deleted_at"), PredicateOp::IsNull, Operand::None),
        ]
    );
    assert_eq!(
        messages.sort,
        vec![SortKey {
            key: col("created_at"),
            direction: SortDirection::Desc,
            nulls: NullsOrder::First,
        }]
    );
    assert_eq!(
        messages.flags,
        AccessFlags {
            limit: true,
            order_by: true,
            select_star: true,
            ..AccessFlags::default()
        }
    );
    assert_eq!(messages.role, AccessRole::Read);
    assert_eq!(messages.origin, AccessOrigin::Statement);
    assert!(messages.or_groups.is_empty() && messages.joins.is_empty());
}

#[test]
fn outbox_poll_with_skip_locked() {
    let shape = shape_of(
        "SELECT id, payload FROM outbox_events WHERE published_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    );
    let outbox = only_access(&shape, "outbox_events");
    assert_eq!(
        outbox.filters,
        vec![pred(
            col("published_at"),
            PredicateOp::IsNull,
            Operand::None
        )]
    );
    assert_eq!(
        outbox.sort,
        vec![SortKey {
            key: col("created_at"),
            direction: SortDirection::Asc,
            nulls: NullsOrder::Last,
        }]
    );
    assert!(outbox.flags.limit && outbox.flags.order_by && !outbox.flags.select_star);
    assert_eq!(
        outbox.row_lock,
        Some(RowLock {
            strength: LockStrength::Update,
            wait: LockWait::SkipLocked,
        })
    );
    assert_eq!(
        outbox.columns_read,
        ["id", "payload", "published_at", "created_at"]
    );
}

#[test]
fn outbox_mark_published() {
    let shape = shape_of("UPDATE outbox_events SET published_at = now() WHERE id = ANY($1)");
    assert_eq!(shape.kind, StatementKind::Update);
    let outbox = only_access(&shape, "outbox_events");
    assert_eq!(outbox.role, AccessRole::UpdateTarget);
    assert_eq!(
        outbox.filters,
        vec![pred(col("id"), PredicateOp::EqualAny, param(1))]
    );
    assert_eq!(outbox.filters[0].class(), PredicateClass::Equality);
}

#[test]
fn idempotency_check_selects_a_parameter() {
    let shape =
        shape_of("SELECT $1 FROM processed_messages WHERE message_id = $2 AND consumer_group = $3");
    let processed = only_access(&shape, "processed_messages");
    assert_eq!(
        processed.filters,
        vec![
            pred(col("message_id"), PredicateOp::Equal, param(2)),
            pred(col("consumer_group"), PredicateOp::Equal, param(3)),
        ]
    );
    // Only the WHERE columns are read: an index on them covers the query.
    assert_eq!(processed.columns_read, ["message_id", "consumer_group"]);
    assert_eq!(processed.flags, AccessFlags::default());
}

#[test]
fn traffic_page_with_offset() {
    let shape = shape_of("SELECT * FROM traffic_events WHERE event_date = $1 LIMIT $2 OFFSET $3");
    let traffic = only_access(&shape, "traffic_events");
    assert_eq!(
        traffic.filters,
        vec![pred(col("event_date"), PredicateOp::Equal, param(1))]
    );
    assert!(traffic.flags.limit && traffic.flags.offset && traffic.flags.select_star);
    assert!(!traffic.flags.order_by && traffic.sort.is_empty());
}

#[test]
fn traffic_batched_delete_by_ctid() {
    let shape = shape_of(
        "DELETE FROM traffic_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM traffic_events WHERE event_date = $1 LIMIT $2))",
    );
    assert_eq!(shape.kind, StatementKind::Delete);
    let [outer, inner] = shape.accesses.as_slice() else {
        panic!("expected the DELETE target and the inner scan: {shape:#?}");
    };
    assert_eq!(outer.table, public("traffic_events"));
    assert_eq!(outer.role, AccessRole::DeleteTarget);
    assert_eq!(
        outer.filters,
        vec![pred(col("ctid"), PredicateOp::EqualAny, Operand::Subquery)]
    );
    assert!(!outer.flags.limit);
    // The ctid hand-off is a semi-join between the two scans of the same table.
    let ctid_edge = JoinCondition {
        key: col("ctid"),
        other_table: public("traffic_events"),
        other_key: col("ctid"),
        semi_join: true,
    };
    assert_eq!(outer.joins, vec![ctid_edge.clone()]);
    assert_eq!(inner.joins, vec![ctid_edge]);

    assert_eq!(inner.table, public("traffic_events"));
    assert_eq!(inner.role, AccessRole::Read);
    assert_eq!(inner.origin, AccessOrigin::Subquery);
    assert_eq!(
        inner.filters,
        vec![pred(col("event_date"), PredicateOp::Equal, param(1))]
    );
    assert!(inner.flags.limit && !inner.flags.order_by);
    assert_eq!(inner.columns_read, ["ctid", "event_date"]);
}

#[test]
fn traffic_count_per_day() {
    let shape = shape_of("SELECT count(*) FROM traffic_events WHERE event_date = $1");
    let traffic = only_access(&shape, "traffic_events");
    assert_eq!(
        traffic.filters,
        vec![pred(col("event_date"), PredicateOp::Equal, param(1))]
    );
    assert!(traffic.flags.count_star && !traffic.flags.select_star);
}

#[test]
fn events_newer_than_interval_after_normalize() {
    let sql = "SELECT * FROM events WHERE created_at > now() - interval $1";
    assert_eq!(
        normalize_statement(sql),
        "SELECT * FROM events WHERE created_at > now() - $1::interval"
    );
    let shape = shape_of(sql);
    let events = only_access(&shape, "events");
    assert_eq!(
        events.filters,
        vec![pred(
            col("created_at"),
            PredicateOp::Greater,
            Operand::Expression("now() - $1::INTERVAL".into())
        )]
    );
    assert_eq!(events.filters[0].class(), PredicateClass::Range);
}
