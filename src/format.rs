//! Formatting for people: sizes, durations, SQL on one line or as a script.
//! Pure functions over plain values; every output format shares them, so a
//! size or a time reads the same in the summary, the PR body and a migration.

/// `1.2 GB`, `800 kB`, `12 B`: sizes as a DBA reads them.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Milliseconds as `850 ms`, `12.3 s`, `4.2 min`, `3.1 h`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

/// One line of SQL, cut to `width` characters.
pub fn one_line(sql: &str, width: usize) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let cut: String = flat.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Statements as a script: one per line, each ending in exactly one `;`.
pub fn sql_script(statements: &[&str]) -> String {
    statements
        .iter()
        .map(|s| format!("{};", s.trim().trim_end_matches(';').trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A string literal in SQL: quoted, inner quotes doubled.
pub fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_scripts_end_every_statement_once() {
        let cases: [(&[&str], &str); 3] = [
            (&[], ""),
            (&["DROP INDEX CONCURRENTLY x"], "DROP INDEX CONCURRENTLY x;"),
            (
                &[
                    "DROP INDEX CONCURRENTLY x; ",
                    "  CREATE INDEX CONCURRENTLY x ON t (a);;",
                ],
                "DROP INDEX CONCURRENTLY x;\nCREATE INDEX CONCURRENTLY x ON t (a);",
            ),
        ];
        for (statements, expected) in cases {
            assert_eq!(sql_script(statements), expected, "{statements:?}");
        }
    }

    #[test]
    fn sizes_and_times_read_naturally() {
        let sizes = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 kB"),
            (1536 * 1024, "1.5 MB"),
            (5 * 1024 * 1024 * 1024, "5.0 GB"),
        ];
        for (n, text) in sizes {
            assert_eq!(bytes(n), text);
        }
        let times = [
            (0.25, "0.2 ms"),
            (850.0, "850.0 ms"),
            (12_300.0, "12.3 s"),
            (252_000.0, "4.2 min"),
            (11_160_000.0, "3.1 h"),
        ];
        for (ms, text) in times {
            assert_eq!(millis(ms), text);
        }
    }

    #[test]
    fn long_sql_is_cut_on_one_line() {
        assert_eq!(one_line("SELECT  1\n FROM t", 80), "SELECT 1 FROM t");
        assert_eq!(one_line("SELECT abcdef", 8), "SELECT …");
    }
}
