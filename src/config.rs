//! `pgadvise.toml`: settings a team keeps next to its code, so scheduled runs
//! need no long command lines. Found in the working directory, or given with
//! `--config`. Flags given on the command line win over the file.
//!
//! ```toml
//! [pools.api]          # matched to application_name
//! instances = 4
//! size = 20
//!
//! [pool]
//! sample_window = "30s"
//! db_cores = 8
//! ```

use crate::analyze::pool::DeclaredPool;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "pgadvise.toml";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Declared connection pools by application_name.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolEntry>,
    #[serde(default)]
    pub pool: PoolSettings,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    pub instances: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// A duration such as `10s` or `2min`.
    pub sample_window: Option<String>,
    pub db_cores: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads `explicit`, or `./pgadvise.toml` when it exists; `None` when there is no file.
    pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_FILE);
                if !p.is_file() {
                    return Ok(None);
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        Ok(Some((path, config)))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, pool) in &config.pools {
            if pool.instances == 0 || pool.size == 0 {
                return Err(format!(
                    "[pools.{name}]: instances and size must be at least 1"
                ));
            }
        }
        if let Some(window) = &config.pool.sample_window {
            crate::cli::parse_duration(window).map_err(|e| format!("[pool] sample_window: {e}"))?;
        }
        Ok(config)
    }

    pub fn declared_pools(&self) -> Vec<DeclaredPool> {
        self.pools
            .iter()
            .map(|(name, p)| DeclaredPool {
                name: name.clone(),
                instances: p.instances,
                size: p.size,
            })
            .collect()
    }

    pub fn sample_window(&self) -> Option<Duration> {
        self.pool
            .sample_window
            .as_deref()
            .and_then(|w| crate::cli::parse_duration(w).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pools_and_settings() {
        let config = Config::parse(
            "[pools.api]\ninstances = 4\nsize = 20\n\n[pools.\"admin tool\"]\ninstances = 1\nsize = 5\n\n\
             [pool]\nsample_window = \"30s\"\ndb_cores = 8\n",
        )
        .unwrap();
        let pools = config.declared_pools();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].name, "admin tool");
        assert_eq!(pools[1].total(), 80);
        assert_eq!(config.sample_window(), Some(Duration::from_secs(30)));
        assert_eq!(config.pool.db_cores, Some(8));
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[pools.api]\ninstances = 4\n", "size"),
            ("[pools.api]\ninstances = 0\nsize = 3\n", "at least 1"),
            ("[pool]\nsample_window = \"soon\"\n", "sample_window"),
            ("[poolz]\n", "poolz"),
            ("[pools.api]\ninstances = 4\nsize = 20\nmax = 3\n", "max"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
