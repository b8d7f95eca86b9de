//! Files the observer writes (`report -o`, `record -o`): never through a symbolic link, never into
//! a FIFO (which would block until someone reads it), a device or a file with other hard links,
//! and readable by their owner only (0600: they hold payloads, PIDs and unit names). The observer
//! runs as root; the directory it is told to write into may belong to someone else.

use std::{
    fs::{File, Metadata, OpenOptions},
    io::Write as _,
    os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::Path,
};

use anyhow::{Context as _, bail};

/// What is at `path` now: None when nothing is; a one-line error when it is anything but a
/// regular file with no other hard link. Looked at without following a final symbolic link.
pub fn existing(path: &Path) -> anyhow::Result<Option<Metadata>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    refuse_unless_plain(path, &meta)?;
    Ok(Some(meta))
}

fn refuse_unless_plain(path: &Path, meta: &Metadata) -> anyhow::Result<()> {
    let t = meta.file_type();
    let what = if t.is_symlink() {
        "a symbolic link; refusing to follow it"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO, not a regular file"
    } else if t.is_socket() {
        "a socket, not a regular file"
    } else if t.is_char_device() || t.is_block_device() {
        "a device, not a regular file"
    } else if meta.nlink() > 1 {
        "a file with other hard links; refusing to write through them"
    } else {
        return Ok(());
    };
    bail!("{}: is {what}", path.display())
}

/// Writes `bytes` as the whole content of `path`, mode 0600. A new file is created; an existing
/// regular file is replaced in place; anything else is refused (see the module comment).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = open_private(path)?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn open_private(path: &Path) -> anyhow::Result<File> {
    existing(path)?;
    // O_NOFOLLOW: a symbolic link put there since the look above is refused (ELOOP), not
    // followed; O_NONBLOCK: a FIFO put there does not block the open (the fstat refuses it).
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => anyhow::anyhow!(
                "{}: is a symbolic link; refusing to follow it",
                path.display()
            ),
            _ => anyhow::anyhow!("cannot create {}: {e}", path.display()),
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("{}", path.display()))?;
    refuse_unless_plain(path, &meta)?;
    file.set_len(0)
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(0o600)))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests;
