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

/// Staged files (`name#n`) anywhere under `dir` (which may not exist). Links
/// are not followed, and a folder this server may not read (a mount's
/// `lost+found`) is passed over: neither holds the store's writes.
fn staged_files(dir: &FsPath) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::warn!(dir = %dir.display(), "not readable: passed over when looking for leftovers");
            return Ok(found);
        }
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            found.extend(staged_files(&path)?);
        } else if kind.is_file() && entry.file_name().to_string_lossy().contains('#') {
            found.push(path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn leftovers_are_found_everywhere_without_following_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for folder in ["images", "videos", "audios", "records", "tasks/owner"] {
            std::fs::create_dir_all(root.join(folder)).expect("mkdir");
        }
        std::fs::write(root.join("tasks/owner/t.json#3"), b"half").expect("write");
        std::fs::write(root.join("tasks/owner/t.json"), b"{}").expect("write");
        // A link back to the root: followed, it would never end.
        std::os::unix::fs::symlink(root, root.join("tasks/loop")).expect("link");
        assert_eq!(clean_leftovers(root).expect("cleans"), 1);
        assert!(!root.join("tasks/owner/t.json#3").exists());
        assert!(root.join("tasks/owner/t.json").exists());
    }
}
