//! Writes rendered migrations into a folder: a migration already there (by
//! its marker) is not written twice, and no other file is overwritten.

use super::{render, Migration, MigrationFormat, OutputFile, Timestamp};
use std::path::{Path, PathBuf};

/// What writing the migrations did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// Files written, in order.
    pub written: Vec<PathBuf>,
    /// Migrations already in the folder (by marker): (id, the file holding it).
    pub already_present: Vec<(String, PathBuf)>,
}

/// Why migrations could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} already exists and is not pgadvise's file for this migration; not overwriting it (use --force to replace it)",
        path.display()
    )]
    WouldOverwrite { path: PathBuf },
}

impl WriteError {
    pub fn path(&self) -> &Path {
        match self {
            WriteError::Io { path, .. } | WriteError::WouldOverwrite { path } => path,
        }
    }
}

/// Files of `dir` whose text carries a `pgadvise-migration:` marker: (id, path).
fn existing_markers(dir: &Path) -> Result<Vec<(String, PathBuf)>, WriteError> {
    let io = |source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if !path.is_file() {
            continue;
        }
        // Migrations are small; anything unreadable as text is not ours.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for id in markers_in(&text) {
            found.push((id, path.clone()));
        }
    }
    found.sort();
    Ok(found)
}

/// The migration ids a file's text names (`pgadvise-migration: <id>` in a
/// comment, `"pgadvise_migration": "<id>"` in a verification plan).
pub(super) fn markers_in(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    // A verification plan: the JSON value, unescaped.
    if let Ok(serde_json::Value::Object(plan)) = serde_json::from_str(text) {
        if let Some(serde_json::Value::String(id)) = plan.get("pgadvise_migration") {
            ids.push(id.clone());
        }
        return ids;
    }
    for line in text.lines() {
        if let Some(at) = line.find("pgadvise-migration: ") {
            let id = line[at + "pgadvise-migration: ".len()..].trim();
            ids.push(id.trim_end_matches(['"', ',']).to_string());
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Writes each migration's files (and what `extra` adds, e.g. its verification
/// plan) into `dir`, created if missing. A migration whose marker is already
/// in a file of `dir` is skipped, whatever its timestamp, unless `force`: then
/// its old files are removed and it is written anew. A file of that name that
/// is not this migration's is never overwritten unless `force`.
pub fn write_migrations(
    dir: &Path,
    format: MigrationFormat,
    migrations: &[(Migration, Vec<OutputFile>)],
    at: Timestamp,
    force: bool,
) -> Result<WriteOutcome, WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let existing = existing_markers(dir)?;
    let mut outcome = WriteOutcome::default();
    let mut next = at;
    for (migration, extra) in migrations {
        let old: Vec<&PathBuf> = existing
            .iter()
            .filter(|(id, _)| *id == migration.id)
            .map(|(_, p)| p)
            .collect();
        if let Some(first) = old.first() {
            if !force {
                outcome
                    .already_present
                    .push((migration.id.clone(), (*first).clone()));
                continue;
            }
            for path in &old {
                std::fs::remove_file(path).map_err(|source| WriteError::Io {
                    path: (*path).clone(),
                    source,
                })?;
            }
        }
        let (mut files, used) = render(format, migration, next);
        let stem = format!("{}_{}", next.version(), migration.name);
        next = next.plus(used.max(1));
        files.extend(extra.iter().map(|f| OutputFile {
            name: format.companion_name(&f.name.replace("{stem}", &stem)),
            contents: f.contents.replace("{stem}", &stem),
        }));
        for file in &files {
            let path = dir.join(&file.name);
            if path.exists() && !force {
                return Err(WriteError::WouldOverwrite { path });
            }
        }
        for file in files {
            let path = dir.join(&file.name);
            crate::emit::write_atomically(&path, file.contents.as_bytes()).map_err(|source| {
                WriteError::Io {
                    path: path.clone(),
                    source,
                }
            })?;
            outcome.written.push(path);
        }
    }
    Ok(outcome)
}
