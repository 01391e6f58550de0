//! Crash recovery of the local store at start: staged leftovers of interrupted
//! writes, and media whose record was never written.

use super::*;

/// Removes staged files (`name#n`) of interrupted writes, wherever they are
/// (media, records, the index, documents: the store does not need to know who
/// keeps what where), and media whose record was never written. Returns how many
/// files were removed.
pub(super) fn clean_leftovers(root: &FsPath) -> std::io::Result<usize> {
    let mut removed = 0;
    for path in staged_files(root)? {
        std::fs::remove_file(path)?;
        removed += 1;
    }
    for kind in [MediaKind::Image, MediaKind::Video, MediaKind::Audio] {
        for entry in std::fs::read_dir(root.join(kind.folder()))? {
            let entry = entry?;
            let name = entry.file_name();
            let orphan = name
                .to_string_lossy()
                .rsplit_once('.')
                .is_some_and(|(id, _)| !root.join("records").join(format!("{id}.json")).exists());
            if orphan {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Staged files (`name#n`) anywhere under `dir` (which may not exist).
fn staged_files(dir: &FsPath) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(staged_files(&path)?);
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains('#'))
        {
            found.push(path);
        }
    }
    Ok(found)
}
