use super::*;

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
    let cases = [
        (
            "-- pgadvise-migration: add_index public.x_idx\nSELECT 1;",
            vec!["add_index public.x_idx"],
        ),
        (
            "# pgadvise-migration: add_index public.x_idx\n",
            vec!["add_index public.x_idx"],
        ),
        (
            "{\n  \"pgadvise_migration\": \"add_index s.\\\"Odd\\\"\",\n}",
            vec!["add_index s.\\"],
        ),
        ("nothing here", vec![]),
    ];
    for (text, expected) in cases {
        assert_eq!(markers_in(text), expected, "{text}");
    }
}

#[test]
fn connection_options_url_encode() {
    assert_eq!(url_encode("-c lock_timeout=5s"), "-c%20lock_timeout%3D5s");
}
