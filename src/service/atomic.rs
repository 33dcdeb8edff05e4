//! Files written whole or not at all: the state file and every archived snapshot.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a hidden file beside `path`, flushes it, then renames it to `path`: either
/// the whole file is there, or none. A failed write takes its hidden file with it.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = folder.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename itself survives a power cut once the folder is flushed too.
    if let Ok(d) = std::fs::File::open(folder) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_replaced_whole_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, b"old").unwrap();
        write(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(names(dir.path()), ["state.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_target_as_it_was_and_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        // The rename fails after the hidden file is written whole: the target is a folder that
        // holds something (rename(2) gives EISDIR or ENOTEMPTY).
        let path = dir.path().join("snapshot.jpg");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let e = write(&path, b"\xFF\xD8\xFF partial").unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::IsADirectory | std::io::ErrorKind::DirectoryNotEmpty
            ),
            "{e}"
        );
        assert_eq!(names(dir.path()), ["snapshot.jpg"], "the .tmp file is gone");
        assert_eq!(names(&path), ["keep"]);
    }
}
