//! Timestamps as snapshots write them (ISO 8601, UTC).

/// Seconds since 1970-01-01 of `YYYY-MM-DDTHH:MM:SS[.frac]Z` (a space for the
/// `T`, no `Z` or `+00` also accepted); `None` for anything else.
pub fn epoch_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .or_else(|| text.strip_suffix("+00"))
        .unwrap_or(text);
    let (date, clock) = text.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let mut c = clock.splitn(3, ':');
    let hour: i64 = c.next()?.parse().ok()?;
    let minute: i64 = c.next()?.parse().ok()?;
    let second: f64 = c.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60) as f64 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::epoch_seconds;

    #[test]
    fn parses_what_snapshots_write() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0.0)),
            ("1970-01-02T00:00:01.5Z", Some(86_401.5)),
            ("2026-12-06T02:00:00.000000Z", Some(1_796_522_400.0)),
            ("2000-03-01 00:00:00+00", Some(951_868_800.0)),
            ("yesterday", None),
            ("2026-13-01T00:00:00Z", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(epoch_seconds(text), expected, "{text}");
        }
    }
}
