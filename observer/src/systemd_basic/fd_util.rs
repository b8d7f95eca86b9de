//! Mirrors systemd's src/basic/fd-util.c: which names a stored file descriptor may have
//! (`FDNAME=`).

/// `FDNAME_MAX` (src/basic/fd-util.h): longest file descriptor name.
const FDNAME_MAX: usize = 255;

/// `fdname_is_valid()` (src/basic/fd-util.c:508 v252.39): printable ASCII but ':' , ≤ 255 bytes.
pub fn fdname_is_valid(s: &[u8]) -> bool {
    s.len() <= FDNAME_MAX && s.iter().all(|&c| (b' '..0x7f).contains(&c) && c != b':')
}
