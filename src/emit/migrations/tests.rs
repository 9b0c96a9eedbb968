use super::writer::markers_in;
use super::*;
use crate::snapshot::QualifiedName;

#[test]
fn timestamps_are_utc_calendar_versions() {
    let cases = [
        (0, "19700101000000"),
        (951_782_400, "20000229000000"),
        (1_700_000_000, "20231114221320"),
        (1_709_251_199, "20240229235959"),
    ];
    for (unix_seconds, version) in cases {
        assert_eq!(Timestamp { unix_seconds }.version(), version);
    }
}

#[test]
fn markers_are_found_in_comments_and_json() {
    let plan = serde_json::json!({
        "format_version": 1,
        "pgadvise_migration": "add_index \"Sales Dept\".x_idx",
    })
    .to_string();
    let cases: [(&str, Vec<&str>); 5] = [
        (
            "-- pgadvise-migration: add_index public.x_idx\nSELECT 1;",
            vec!["add_index public.x_idx"],
        ),
        (
            "# pgadvise-migration: add_index public.x_idx\n",
            vec!["add_index public.x_idx"],
        ),
        (&plan, vec!["add_index \"Sales Dept\".x_idx"]),
        ("{\"other\": 1}", vec![]),
        ("nothing here", vec![]),
    ];
    for (text, expected) in cases {
        assert_eq!(markers_in(text), expected, "{text}");
    }
}

#[test]
fn companion_files_stay_out_of_the_runners_way() {
    let cases = [
        (MigrationFormat::Sql, "a.verify.sql"),
        (MigrationFormat::Sqlx, "a.verify.psql"),
        (MigrationFormat::Dbmate, "a.verify.psql"),
        (MigrationFormat::Liquibase, "a.verify.psql"),
        (MigrationFormat::GolangMigrate, "a.verify.sql"),
    ];
    for (format, expected) in cases {
        assert_eq!(format.companion_name("a.verify.sql"), expected);
        assert_eq!(format.companion_name("a.verify.json"), "a.verify.json");
    }
}

#[test]
fn connection_options_url_encode() {
    assert_eq!(url_encode("-c lock_timeout=5s"), "-c%20lock_timeout%3D5s");
}

fn sample_migration(index: &str) -> Migration {
    let table = QualifiedName::new("public", "t");
    Migration {
        id: format!("add_index public.{index}"),
        name: format!("add_{index}"),
        header: vec!["Adds an index.".to_string()],
        up: vec![Step::CreateIndex(IndexDefinition {
            name: index.to_string(),
            table: table.clone(),
            only: false,
            concurrently: true,
            method: "btree".to_string(),
            keys_sql: vec!["a".to_string()],
            keys: vec![Some(("a".to_string(), false))],
            include: vec![],
            opclasses: vec![None],
            pages_per_range: None,
            predicate_sql: None,
            predicate: vec![],
        })],
        down: vec![Step::DropIndex {
            index: QualifiedName::new("public", index),
            table,
            concurrently: true,
        }],
        settings: vec![],
        statements_run_alone: true,
    }
}

#[test]
fn writing_twice_keeps_what_is_there_and_force_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = Timestamp {
        unix_seconds: 1_767_225_600,
    };
    let batch = vec![(sample_migration("t_a_idx"), Vec::new())];
    let first = write_migrations(dir.path(), MigrationFormat::Sql, &batch, at, false).unwrap();
    assert_eq!(first.written.len(), 2);
    // Later, another timestamp: the migration is recognised by its marker.
    let later = at.plus(3600);
    let second = write_migrations(dir.path(), MigrationFormat::Sql, &batch, later, false).unwrap();
    assert!(second.written.is_empty());
    assert_eq!(second.already_present.len(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // --force: the old files go, the new ones come.
    let forced = write_migrations(dir.path(), MigrationFormat::Sql, &batch, later, true).unwrap();
    assert_eq!(forced.written.len(), 2);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "20260101010000_add_t_a_idx.down.sql",
            "20260101010000_add_t_a_idx.sql"
        ]
    );

    // A file of the same name that is not this migration is never overwritten.
    let other = vec![(sample_migration("t_b_idx"), Vec::new())];
    let foreign = dir.path().join("20260101000000_add_t_b_idx.sql");
    std::fs::write(&foreign, "-- hand-written\n").unwrap();
    let err = write_migrations(dir.path(), MigrationFormat::Sql, &other, at, false).unwrap_err();
    assert!(matches!(err, WriteError::WouldOverwrite { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "-- hand-written\n"
    );
}

#[test]
fn whole_file_runners_get_one_statement_per_file() {
    let mut m = sample_migration("t_a_idx");
    m.up.push(Step::Sql("ALTER INDEX a ATTACH PARTITION b".to_string()));
    let parts = split_for_whole_file_runner(&m);
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| p.up.len() == 1));
    assert_eq!(parts[0].down.len(), 1);
    assert!(parts[1].down.is_empty() && parts[1].down_note.is_some());
    let at = Timestamp { unix_seconds: 0 };
    let (files, used) = render(MigrationFormat::Dbmate, &m, at);
    assert_eq!(used, 2);
    assert_eq!(
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        [
            "19700101000000_add_t_a_idx_1of2.sql",
            "19700101000001_add_t_a_idx_2of2.sql"
        ]
    );
    // psql-style runners keep one file.
    assert_eq!(render(MigrationFormat::Sql, &m, at).0.len(), 2);
}
