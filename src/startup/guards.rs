//! Checks `serve` makes before it touches anything: the data directory can
//! be written, and no other server holds the SQLite file.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Creates the data directory if missing and proves it can be written, so
/// that an unwritable one is refused at once, naming the setting, rather
/// than when the first code is mailed or the secret is saved.
pub fn writable_data_dir(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(".write-test");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("IDENTITY_DATA_DIR: cannot write to {}", dir.display()))
}

/// Held for as long as one `serve` runs on a SQLite file: SQLite has one
/// writer, and a server's in-process state (revocations it follows, the
/// rate-limit view) assumes no second server on the file. Operator commands
/// do not take it, so they run beside the server.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    /// Takes the lock `<database>.lock`, or says that a server holds it.
    /// The operating system releases it when the process ends, however.
    pub fn take(database: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("IDENTITY_DATABASE_URL: cannot create {}", dir.display())
            })?;
        }
        let path = lock_path(database);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("IDENTITY_DATABASE_URL: cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "IDENTITY_DATABASE_URL: another `identity serve` is running on {}; \
                 a SQLite file has one server (use PostgreSQL for several)",
                database.display()
            ),
            Err(std::fs::TryLockError::Error(error)) => Err(error)
                .with_context(|| format!("IDENTITY_DATABASE_URL: cannot lock {}", path.display())),
        }
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
