//! Files written whole or not at all: every file pqlsync writes on local disk (outputs,
//! reports, pages, summaries, recorded requests) is written to a temporary file beside it and
//! renamed into place, so a reader never sees half a file and a crash leaves the old one.
//! This is the one writer they share; what goes into the file is the caller's.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written. [`AtomicFile::commit`] publishes it; dropping it uncommitted deletes
/// the temporary file and leaves whatever was at the path before.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    temp: NamedTempFile,
}

impl AtomicFile {
    /// Start writing `path`, creating its directory if needed. The temporary file is a dot
    /// file in the same directory (a rename across filesystems would not be atomic).
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(".pqlsync-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
        })
    }

    /// The file where the content goes.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// A second handle on the temporary file, for writers that take ownership of one.
    pub fn reopen(&self) -> io::Result<File> {
        self.temp.reopen()
    }

    /// The path the file will be published at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sync the content to disk, make it readable like any output, and rename it into place.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        publishable(self.temp.as_file())?;
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    io::Write::write_all(file.file(), bytes)?;
    file.commit()
}

/// Temporary files are created private (0600); a published output is an ordinary file that
/// the next pipeline step, run as another user, can read.
fn publishable(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_committed_file_replaces_the_old_one_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/out.txt");
        write(&path, b"old").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(&dir.path().join("nested")), ["out.txt"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn a_file_dropped_uncommitted_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write(&path, b"old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        io::Write::write_all(file.file(), b"half").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }
}
