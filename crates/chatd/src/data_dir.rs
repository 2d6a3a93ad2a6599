//! The data directory's lock: one `chatd` at a time may use a data
//! directory. Two writing one SQLite database would number messages over
//! each other; the second is refused at start, told which process holds
//! the directory.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held for as long as the process uses the directory; the operating
/// system lets go of it when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Locks `dir` (made if need be, its owner's alone), or says who holds
    /// it.
    pub fn take(dir: &Path) -> Result<Self, String> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let cannot = |error: std::io::Error| {
            format!("cannot use the data directory {}: {error}", dir.display())
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(cannot)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join("chatd.lock"))
            .map_err(cannot)?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            return Err(format!(
                "the data directory {} is in use by another chatd{holder}; stop it, \
                 or give this one a directory of its own with --data-dir",
                dir.display()
            ));
        }
        // Who holds it, for the next one to be told.
        file.set_len(0).map_err(cannot)?;
        file.rewind().map_err(cannot)?;
        writeln!(file, "{}", std::process::id()).map_err(cannot)?;
        Ok(DataDirLock { _file: file })
    }
}
