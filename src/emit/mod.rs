//! emit: turns results into what people and machines read. Writes nothing
//! half-way: files are written to a temporary name and renamed into place.

pub mod audit;
pub mod chart;
pub mod diff;
pub mod fleet;
pub mod github;
pub mod html;
pub mod migrations;
pub mod pr_body;
pub mod report;
pub mod report_charts;
pub mod sarif;
pub mod text;

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically: a reader sees the old file or the
/// whole new one, never a torn write (a temporary file in the same directory is
/// renamed over the target).
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.pgadvise-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    fn writes_whole_files_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A directory that does not exist fails cleanly.
        assert!(write_atomically(&dir.path().join("missing/out.json"), b"x").is_err());
    }
}
