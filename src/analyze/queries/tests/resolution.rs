//! Name resolution as PostgreSQL does it, and every skip reason.

use super::*;

fn skip_reason(sql: &str) -> SkipReason {
    match analyze_statement(sql, &catalog()) {
        Ok(shape) => panic!("expected a skip, got a shape for {sql}: {shape:#?}"),
        Err(reason) => reason,
    }
}

fn sales_order() -> QualifiedName {
    QualifiedName::new("sales", "Order")
}

#[test]
fn quoted_mixed_case_unicode_and_reserved_identifiers() {
    let shape = shape_of(
        r#"SELECT "Order"."select" FROM sales."Order" WHERE "Order"."User Id" = $1 AND "Größe" > $2 ORDER BY "select""#,
    );
    let order = shape
        .accesses
        .iter()
        .find(|a| a.table == sales_order())
        .unwrap_or_else(|| panic!("{shape:#?}"));
    assert_eq!(
        order.filters,
        vec![
            pred(col("User Id"), PredicateOp::Equal, param(1)),
            pred(col("Größe"), PredicateOp::Greater, param(2)),
        ]
    );
    assert_eq!(
        order.sort,
        vec![SortKey {
            key: col("select"),
            direction: SortDirection::Asc,
            nulls: NullsOrder::Last,
        }]
    );
    // Unquoted names fold ASCII letters only: Größe -> größe, a different column.
    let shape = shape_of("SELECT 1 FROM SALES.\"Order\" o WHERE o.Größe = $1");
    assert_eq!(
        shape.accesses[0].filters,
        vec![pred(col("größe"), PredicateOp::Equal, param(1))]
    );
    // Unquoted Order folds to order, which is not the table "Order".
    assert_eq!(
        skip_reason("SELECT 1 FROM sales.Orders"),
        SkipReason::UnknownRelation(vec!["sales.Orders".into()])
    );
    // Expression keys quote what needs quoting.
    let shape = shape_of(
        r#"SELECT 1 FROM sales."Order" WHERE lower("User Id") = $1 AND upper("select") = $2"#,
    );
    assert_eq!(
        shape.accesses[0].filters,
        vec![
            pred(
                expr_key(r#"lower("User Id")"#, &["User Id"]),
                PredicateOp::Equal,
                param(1)
            ),
            pred(
                expr_key(r#"upper("select")"#, &["select"]),
                PredicateOp::Equal,
                param(2)
            ),
        ]
    );
}

#[test]
fn schema_qualification_and_search_path() {
    // `accounts` lives in schema app: unknown on the default search_path, found on a custom one.
    assert_eq!(
        skip_reason("SELECT * FROM accounts WHERE owner_id = $1"),
        SkipReason::UnknownRelation(vec!["accounts".into()])
    );
    let catalog = catalog().with_search_path(["$user", "app", "public"]);
    assert_eq!(catalog.search_path(), ["app", "public"]);
    let shape =
        analyze_statement("SELECT * FROM accounts WHERE owner_id = $1", &catalog).expect("shape");
    assert_eq!(
        shape.accesses[0].table,
        QualifiedName::new("app", "accounts")
    );
    assert_eq!(
        shape.accesses[0].filters,
        vec![pred(col("owner_id"), PredicateOp::Equal, param(1))]
    );

    // Qualified names ignore the search_path; three-part names drop the database.
    for sql in [
        "SELECT * FROM app.accounts a WHERE a.owner_id = $1",
        "SELECT * FROM mydb.app.accounts WHERE app.accounts.owner_id = $1",
        "SELECT * FROM APP.Accounts WHERE accounts.owner_id = $1",
    ] {
        let shape = shape_of(sql);
        assert_eq!(
            shape.accesses[0].table,
            QualifiedName::new("app", "accounts"),
            "{sql}"
        );
        assert_eq!(
            shape.accesses[0].filters,
            vec![pred(col("owner_id"), PredicateOp::Equal, param(1))],
            "{sql}"
        );
    }
    let shape = shape_of("SELECT * FROM public.users WHERE public.users.email = $1");
    assert_eq!(
        shape.accesses[0].filters,
        vec![pred(col("email"), PredicateOp::Equal, param(1))]
    );
}

#[test]
fn catalog_relations_and_unknown_relations() {
    for sql in [
        "SELECT * FROM pg_class WHERE relname = $1",
        "SELECT * FROM pg_catalog.pg_stat_activity",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
    ] {
        assert_eq!(skip_reason(sql), SkipReason::OnlyCatalogRelations, "{sql}");
    }
    assert_eq!(
        skip_reason("SELECT * FROM temp_import t WHERE t.id = $1"),
        SkipReason::UnknownRelation(vec!["temp_import".into()])
    );
    // One known table is enough for a shape; the unknown one is listed.
    let shape =
        shape_of("SELECT * FROM users u JOIN temp_import t ON t.user_id = u.id WHERE u.email = $1");
    assert_eq!(shape.unresolved_relations, ["temp_import"]);
    assert_eq!(
        only_access(&shape, "users").filters,
        vec![
            pred(
                col("id"),
                PredicateOp::Equal,
                Operand::OtherRelation("t.user_id".into())
            ),
            pred(col("email"), PredicateOp::Equal, param(1)),
        ]
    );
    assert_eq!(skip_reason("SELECT 1"), SkipReason::NoTables);
    assert_eq!(
        skip_reason("SELECT * FROM generate_series(1, 10) g"),
        SkipReason::NoTables
    );
}

#[test]
fn skip_reasons_for_what_is_not_a_query() {
    let utility = [
        ("SET statement_timeout = 0", "SET"),
        ("PREPARE q AS SELECT 1", "PREPARE"),
        ("EXPLAIN SELECT * FROM users", "EXPLAIN"),
        ("CREATE INDEX CONCURRENTLY i ON users (email)", "CREATE"),
        ("COPY users TO STDOUT", "COPY"),
        ("VACUUM (VERBOSE) users", "VACUUM"),
        ("BEGIN", "BEGIN"),
        ("commit", "COMMIT"),
        ("/* leading comment */ show search_path", "SHOW"),
    ];
    for (sql, keyword) in utility {
        assert_eq!(
            skip_reason(sql),
            SkipReason::UtilityStatement(keyword.into()),
            "{sql}"
        );
    }
    assert_eq!(
        skip_reason("/* pgadvise */ SELECT * FROM users WHERE email = $1"),
        SkipReason::PgadviseStatement
    );
    assert_eq!(
        skip_reason("SELECT * FROM users; SELECT * FROM orders"),
        SkipReason::MultipleStatements(2)
    );
    assert_eq!(skip_reason("  -- nothing\n"), SkipReason::Empty);
    let SkipReason::ParseError(message) = skip_reason("SELECT * FROM users WHERE") else {
        panic!("expected a parse error");
    };
    assert!(
        message.contains("Expected"),
        "the parser's message is kept: {message}"
    );
    assert_eq!(
        skip_reason(
            "MERGE INTO users u USING orders o ON o.user_id = u.id WHEN MATCHED THEN DELETE"
        ),
        SkipReason::Unsupported("MERGE".into())
    );
    // Reasons read as sentences.
    assert_eq!(
        SkipReason::UnknownRelation(vec!["a".into(), "b".into()]).to_string(),
        "no relation resolves in the catalog: a, b"
    );
}

#[test]
fn deep_nesting_is_a_skip_not_a_crash() {
    // Parenthesized nesting hits the parser's recursion limit.
    let nested = format!(
        "SELECT * FROM users WHERE {}email = $1{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(matches!(skip_reason(&nested), SkipReason::ParseError(_)));
    // Subqueries nested beyond the parser's limit, likewise.
    let mut subqueries = "SELECT id FROM users".to_string();
    for _ in 0..100 {
        subqueries = format!("SELECT id FROM users WHERE id IN ({subqueries})");
    }
    assert!(matches!(
        skip_reason(&subqueries),
        SkipReason::ParseError(_)
    ));
    // A long operator chain parses iteratively but would be walked recursively.
    let chain = format!(
        "SELECT * FROM users WHERE id = {}",
        vec!["1"; 2_000].join(" + ")
    );
    assert!(matches!(skip_reason(&chain), SkipReason::Unsupported(_)));
    // A long chain rendered as an operand (sqlparser's Display recurses).
    let operand = format!(
        "SELECT * FROM users WHERE active = ({})",
        vec!["$1"; 2_400].join(" AND ")
    );
    assert_eq!(only_access(&shape_of(&operand), "users").filters.len(), 1);
    // Just inside the walk's depth limit still works on a test thread's small stack.
    let chain = format!(
        "SELECT * FROM users WHERE id = {}",
        vec!["1"; 90].join(" + ")
    );
    assert_eq!(only_access(&shape_of(&chain), "users").filters.len(), 1);
    let nested_views_and_subqueries = "SELECT * FROM recent_user_emails r WHERE r.user_id IN (SELECT user_id FROM orders o WHERE EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = o.user_id AND e.email_lc IN (SELECT lower(email) FROM active_users)))";
    assert_eq!(shape_of(nested_views_and_subqueries).accesses.len(), 4);
    // A chain too long to parse safely is refused before parsing.
    let huge = format!(
        "SELECT * FROM users WHERE {}",
        vec!["id = 1"; 60_000].join(" OR ")
    );
    assert!(matches!(skip_reason(&huge), SkipReason::TooLarge(_)));
    // Thousands of ANDed predicates are fine: the chain is flattened without recursion.
    let wide = format!(
        "SELECT * FROM users WHERE {}",
        vec!["id = $1"; 2_000].join(" AND ")
    );
    assert_eq!(only_access(&shape_of(&wide), "users").filters.len(), 2_000);
}

#[test]
fn shapes_serialize_deterministically() {
    let sql = "SELECT * FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC LIMIT $2";
    let first = serde_json::to_string(&shape_of(sql)).expect("serializes");
    let second = serde_json::to_string(&shape_of(sql)).expect("serializes");
    assert_eq!(first, second);
    assert!(first.starts_with(
        r#"{"kind":"Select","accesses":[{"table":{"schema":"public","name":"messages"}"#
    ));
}

/// Each limit checked before parsing, just past it and just inside it.
#[test]
fn limits_are_checked_before_parsing() {
    let too_large = |sql: &str| match skip_reason(sql) {
        SkipReason::TooLarge(why) => why,
        other => panic!("{other:?} for {}...", &sql[..60.min(sql.len())]),
    };
    let over = MAX_OPERATORS + 1;
    let chains: &[(&str, String)] = &[
        (
            "casts",
            format!("SELECT id FROM users WHERE id{} = $1", "::int".repeat(over)),
        ),
        (
            "IS NULL",
            format!(
                "SELECT id FROM users WHERE email{}",
                " IS NULL".repeat(over)
            ),
        ),
        (
            "IS NOT TRUE",
            format!(
                "SELECT id FROM users WHERE (id = $1){}",
                " IS NOT TRUE".repeat(over / 2 + 1)
            ),
        ),
        (
            "subscripts",
            format!(
                "SELECT id FROM users WHERE email{} = $1",
                "[1]".repeat(over)
            ),
        ),
        (
            "AT TIME ZONE",
            format!(
                "SELECT id FROM users WHERE created_at{} > $1",
                " AT TIME ZONE 'UTC'".repeat(over)
            ),
        ),
        (
            "COLLATE",
            format!(
                "SELECT id FROM users WHERE email{} = $1",
                " COLLATE \"C\"".repeat(over)
            ),
        ),
        (
            "ORDER BY casts",
            format!(
                "SELECT id FROM users ORDER BY email{}",
                "::text".repeat(over)
            ),
        ),
    ];
    for (kind, sql) in chains {
        let why = too_large(sql);
        assert!(why.contains("operators (limit 5000)"), "{kind}: {why}");
    }
    // Field access is a flat list, bounded by the token count.
    let fields = format!(
        "SELECT id FROM users WHERE (email){} = $1",
        ".f".repeat(MAX_TOKENS / 2)
    );
    assert!(too_large(&fields).contains("tokens (limit 150000)"));
    let in_list = format!(
        "SELECT id FROM users WHERE id IN ({})",
        vec!["$1"; MAX_TOKENS / 2 + 1].join(",")
    );
    assert!(too_large(&in_list).contains("tokens"));
    let long_text = format!(
        "SELECT id FROM users WHERE email = '{}'",
        "x".repeat(MAX_STATEMENT_BYTES)
    );
    assert!(too_large(&long_text).contains("bytes of text (limit 1048576)"));
    // Inside the limits: 65,535 parameters, the protocol's most, and a chain
    // of casts just under the operator limit.
    let params: Vec<String> = (1..=65_535).map(|i| format!("${i}")).collect();
    let widest = format!("SELECT id FROM users WHERE id IN ({})", params.join(", "));
    assert_eq!(only_access(&shape_of(&widest), "users").filters.len(), 1);
    let casts = format!(
        "SELECT id FROM users WHERE id{} = $1",
        "::int".repeat(MAX_OPERATORS - 1)
    );
    assert!(!matches!(skip_reason(&casts), SkipReason::TooLarge(_)));
    // A view's definition comes from the snapshot too, and meets the same limits.
    let catalog = catalog().with_view(ViewDef {
        name: public("deep_view"),
        columns: vec!["id".into()],
        definition: format!("SELECT id FROM users WHERE id{} = 1", "::int".repeat(over)),
    });
    match analyze_statement("SELECT id FROM deep_view WHERE id = $1", &catalog) {
        Err(SkipReason::Unsupported(why)) => assert!(
            why.starts_with("definition of view public.deep_view: ") && why.contains("operators"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    // An expression too long for an index definition is no index key.
    let key_of = |expr: &str| {
        let shape = shape_of(&format!("SELECT id FROM users WHERE {expr} = $1"));
        only_access(&shape, "users")
            .filters
            .iter()
            .map(|p| p.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        key_of("lower(email)"),
        [expr_key("lower(email)", &["email"])]
    );
    let long = vec!["lower(email)"; 30].join(" || ");
    assert!(long.len() > MAX_EXPRESSION_KEY_BYTES);
    assert!(key_of(&long)
        .iter()
        .all(|k| !matches!(k, IndexKey::Expression { .. })));
}

/// What the limits let through is analyzed on a thread of
/// [`ANALYSIS_STACK_BYTES`](crate::analyze::workload::ANALYSIS_STACK_BYTES);
/// even a chain the operator count missed (here, past the check) as deep as
/// [`MAX_TOKENS`] allows is parsed, walked and dropped on that stack.
#[test]
fn the_analysis_stack_holds_the_deepest_tree_the_token_limit_allows() {
    let links = MAX_TOKENS / 2;
    let chains = [
        format!(
            "SELECT id FROM users WHERE id{} = $1",
            "::int".repeat(links)
        ),
        format!(
            "SELECT id FROM users ORDER BY email{}",
            "::text".repeat(links)
        ),
        format!(
            "SELECT id FROM users WHERE email{}",
            " IS NULL".repeat(links)
        ),
    ];
    let worker = std::thread::Builder::new()
        .stack_size(crate::analyze::workload::ANALYSIS_STACK_BYTES)
        .spawn(move || {
            let catalog = catalog();
            // Skipped or not, what matters is that the thread gets back here.
            for sql in &chains {
                let _ = analyze_within_limits(sql, &catalog);
            }
        })
        .expect("spawning the analysis thread");
    assert!(worker.join().is_ok());
}
