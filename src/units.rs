//! Values with a unit, as typed on the command line and in pgadvise.toml:
//! durations (`500ms`, `30s`, `2min`, `1h`) and sizes (`500MB`, `2GB`).
//! One parser each, so both places accept exactly the same text.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

/// A positive duration of at most a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn get(self) -> std::time::Duration {
        self.0
    }

    /// Parses `500ms`, `30s`, `2min`, `1h`; a bare number means seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, unit) = split_number(text);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a duration (examples: 500ms, 30s, 2min, 1h)"))?;
        let seconds = match unit.trim() {
            "" | "s" | "sec" | "secs" => value,
            "ms" => value / 1000.0,
            "m" | "min" | "mins" => value * 60.0,
            "h" => value * 3600.0,
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{text}' (use ms, s, min or h)"
                ))
            }
        };
        if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 * 7.0 {
            return Err(format!(
                "'{text}' is out of range (more than 0, at most a week)"
            ));
        }
        Ok(Duration(std::time::Duration::from_secs_f64(seconds)))
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// A size in bytes, above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(i64);

impl Size {
    pub fn bytes(self) -> i64 {
        self.0
    }

    /// A number with an optional unit, `kB`, `MB`, `GB` or `TB` (powers of
    /// 1024, as PostgreSQL counts them), e.g. `500MB`, `1.5 GB`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (number, unit) = split_number(text.trim());
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a size such as 500MB or 2GB"))?;
        let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "kb" | "k" => 1024.0,
            "mb" | "m" => 1024.0 * 1024.0,
            "gb" | "g" => 1024.0 * 1024.0 * 1024.0,
            "tb" | "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "'{other}' in '{text}' is not a unit (kB, MB, GB or TB)"
                ))
            }
        };
        let bytes = value * factor;
        if !bytes.is_finite() || bytes < 1.0 || bytes > i64::MAX as f64 {
            return Err(format!("'{text}' is not a size above zero"));
        }
        Ok(Size(bytes as i64))
    }
}

/// The leading number (digits and dots) and the rest, the unit.
fn split_number(text: &str) -> (&str, &str) {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(split)
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Duration::parse(text)
    }
}

impl FromStr for Size {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Size::parse(text)
    }
}

/// Deserializes a value from its text with `parse`, the parser's message as the error.
fn from_text<'de, D, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    let text = deserializer.deserialize_str(Text)?;
    parse(&text).map_err(serde::de::Error::custom)
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, Duration::parse)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, Size::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("500ms", 500),
            ("30s", 30_000),
            ("30", 30_000),
            ("2min", 120_000),
            ("1h", 3_600_000),
            ("1.5s", 1_500),
            (" 10 s ", 10_000),
        ];
        for (text, ms) in ok {
            assert_eq!(
                Duration::parse(text).unwrap().get().as_millis(),
                ms,
                "{text}"
            );
        }
        for bad in ["", "s", "10 parsecs", "-1s", "0", "1e9h", "abc", "8d"] {
            assert!(Duration::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn sizes() {
        let mb = 1024 * 1024;
        let ok = [
            ("500MB", 500 * mb),
            ("287MB", 287 * mb),
            ("1GB", 1024 * mb),
            ("1.5 GB", 1536 * mb),
            ("2g", 2048 * mb),
            ("10kB", 10 * 1024),
            ("4096", 4096),
            ("1TB", 1024 * 1024 * mb),
        ];
        for (text, bytes) in ok {
            assert_eq!(Size::parse(text).unwrap().bytes(), bytes, "{text}");
        }
        for bad in ["", "MB", "0", "0.5", "-1MB", "5 parsecs", "1e3MB"] {
            assert!(Size::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn deserializing_uses_the_same_parser() {
        #[derive(Deserialize)]
        struct Values {
            window: Duration,
            budget: Size,
        }
        let v: Values = toml::from_str("window = \"2min\"\nbudget = \"1GB\"\n").unwrap();
        assert_eq!(v.window, Duration::from_secs(120));
        assert_eq!(v.budget.bytes(), 1024 * 1024 * 1024);
        let err = toml::from_str::<Values>("window = \"soon\"\nbudget = \"1GB\"\n")
            .map(|_| ())
            .unwrap_err();
        assert!(err.message().contains("'soon' is not a duration"), "{err}");
        assert!(toml::from_str::<Values>("window = 5\nbudget = \"1GB\"\n").is_err());
    }
}
