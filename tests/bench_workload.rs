//! The benchmark's synthetic workload (benches/support/workload_gen.rs) is valid
//! for PostgreSQL itself: its schema loads, and every statement the analyzer is
//! meant to take apart prepares against it.

mod support;

#[path = "../benches/support/workload_gen.rs"]
mod workload_gen;

use support::TestDb;
use workload_gen::StatementClass;

#[tokio::test]
async fn the_benchmark_workload_loads_into_a_real_server() {
    let generated = workload_gen::generate(workload_gen::SEED);
    let db = TestDb::create("benchwl").await;
    let client = db.client().await;
    client
        .batch_execute(&generated.schema_sql())
        .await
        .unwrap_or_else(|e| panic!("loading the benchmark schema: {e:?}"));

    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").await,
        workload_gen::TABLE_COUNT as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").await,
        generated.snapshot.indexes.len() as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").await,
        generated.snapshot.foreign_keys.len() as i64
    );

    // One PREPARE per statement the analyzer should shape; the batch stops at
    // the first that the server rejects. (Counting pg_prepared_statements
    // instead costs seconds per thousand entries.)
    let statements = generated.statements_sql();
    let preparable = generated
        .statement_classes
        .iter()
        .filter(|c| **c == StatementClass::Dml)
        .count();
    assert!(preparable > 4_000, "{preparable}");
    assert_eq!(
        statements
            .lines()
            .filter(|l| l.starts_with("PREPARE "))
            .count(),
        preparable
    );
    client
        .batch_execute(&statements)
        .await
        .unwrap_or_else(|e| panic!("preparing the benchmark statements: {e:?}"));
}
