//! Appends records to a recording file, durably, with rotation.
//!
//! Flush policy: every record is handed to the kernel with its own write(2) as soon as it is
//! judged, so a recorder killed with SIGKILL loses nothing already written (the page cache keeps
//! it); fdatasync(2) runs every `sync_every` (default 1 s), at rotation and at exit, so a power
//! loss costs at most that last second. A failed write (disk full) is cut back off the file, so
//! the file stays readable up to the record before; the record is counted as lost and writing
//! goes on with the next one.

use std::{
    fs::{File, OpenOptions},
    io::Write as _,
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use super::{frame, records::Record};

#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Start a new file once the current one reaches this many bytes.
    pub max_size: Option<u64>,
    /// Start a new file once the current one is this old.
    pub max_age: Option<Duration>,
    /// Rotated files kept (FILE.1 newest … FILE.N oldest).
    pub keep: u32,
}

pub struct Writer {
    path: PathBuf,
    file: File,
    /// Bytes of whole records in the file: where a failed write is cut back to.
    len: u64,
    opened: Instant,
    last_sync: Instant,
    sync_every: Duration,
    rotation: Rotation,
    /// Records that could not be written (disk full, I/O error).
    pub lost: u64,
}

impl Writer {
    /// Starts a new recording at `path`. An existing recording there is rotated away first,
    /// never appended to: its end may be a record torn by a crash, which readers report there.
    /// Anything at `path` but a regular file (a symbolic link, a FIFO that would block the
    /// open, a device) is refused with one line (see output_file.rs).
    pub fn create(path: &Path, rotation: Rotation, sync_every: Duration) -> anyhow::Result<Writer> {
        if crate::output_file::existing(path)?.is_some() {
            let mut head = [0u8; 8];
            let n = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .and_then(|mut f| frame::read_full(&mut f, &mut head))
                .with_context(|| format!("{}: cannot read", path.display()))?;
            if n > 0 && !frame::MAGIC.starts_with(&head[..n]) {
                anyhow::bail!(
                    "{}: exists and is not a recording; refusing to overwrite it",
                    path.display()
                );
            }
            rotate_files(path, rotation.keep)?;
        }
        let file = open_new(path)?;
        let now = Instant::now();
        Ok(Writer {
            path: path.to_owned(),
            file,
            len: frame::HEADER_LEN as u64,
            opened: now,
            last_sync: now,
            sync_every,
            rotation,
            lost: 0,
        })
    }

    /// Whether the next record should go to a new file (the caller then calls `rotate` and
    /// writes the session record and unit snapshots first).
    pub fn due(&self) -> bool {
        self.rotation.max_size.is_some_and(|m| self.len >= m)
            || self
                .rotation
                .max_age
                .is_some_and(|a| self.opened.elapsed() >= a)
    }

    pub fn rotate(&mut self) -> anyhow::Result<()> {
        self.sync();
        rotate_files(&self.path, self.rotation.keep)?;
        self.file = open_new(&self.path)?;
        self.len = frame::HEADER_LEN as u64;
        self.opened = Instant::now();
        Ok(())
    }

    /// Appends one record; on failure the file is left as it was before it.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let body = super::to_body(record).map_err(std::io::Error::other)?;
        let bytes = frame::encode(&body);
        match self.file.write_all(&bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.lost += 1;
                // Cut a partial write back off, so the file ends on a whole record.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// fdatasync when `sync_every` has passed since the last one.
    pub fn maybe_sync(&mut self) {
        if self.last_sync.elapsed() >= self.sync_every {
            self.sync();
        }
    }

    pub fn sync(&mut self) {
        if let Err(e) = self.file.sync_data() {
            log::warn!("{}: fdatasync: {e}", self.path.display());
        }
        self.last_sync = Instant::now();
    }
}

/// A new file, mode 0600 (recordings hold payloads and PIDs), with the header written.
fn open_new(path: &Path) -> anyhow::Result<File> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(&frame::header())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(file)
}

/// FILE → FILE.1 → FILE.2 …, dropping what is past `keep`.
fn rotate_files(path: &Path, keep: u32) -> anyhow::Result<()> {
    let numbered = |i: u32| PathBuf::from(format!("{}.{i}", path.display()));
    let _ = std::fs::remove_file(numbered(keep.max(1)));
    if keep == 0 {
        return std::fs::remove_file(path)
            .with_context(|| format!("{}: cannot remove", path.display()));
    }
    for i in (1..keep).rev() {
        if numbered(i).exists() {
            std::fs::rename(numbered(i), numbered(i + 1))
                .with_context(|| format!("rotating {}", numbered(i).display()))?;
        }
    }
    std::fs::rename(path, numbered(1)).with_context(|| format!("rotating {}", path.display()))
}
