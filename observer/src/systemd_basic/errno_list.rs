//! Mirrors systemd's src/basic/errno-list.c (`errno_from_name()`, `errno_to_name()`): the one
//! table of errno names and numbers. `parse_errno()` reads names with it (`ERRNO=ENOENT`), and
//! every output that shows a failed send's errno names it with it.

/// An errno value (positive), as systemd's parsers return it and `%m` renders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ESRCH: Errno = Errno(3);
    pub const EINVAL: Errno = Errno(22);
    pub const ERANGE: Errno = Errno(34);

    /// `strerror()` text, as systemd's `%m` logs it: only for the errnos the parsers here
    /// return (the rules quote systemd's log lines, which print these).
    pub fn strerror(self) -> &'static str {
        match self {
            Errno::ESRCH => "No such process",
            Errno::EINVAL => "Invalid argument",
            Errno::ERANGE => "Numerical result out of range",
            _ => "Unknown error",
        }
    }

    /// `errno_from_name()`: exact, case-sensitive (`EAGAIN`, and its alias `EWOULDBLOCK`).
    pub fn from_name(name: &[u8]) -> Option<Errno> {
        ERRNO_NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, e)| Errno(e))
    }

    /// `errno_to_name()`: the canonical name (`EAGAIN`, never its alias `EWOULDBLOCK`).
    pub fn name(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|&&(n, e)| e == self.0 && !ALIASES.contains(&n))
            .map(|&(n, _)| n)
    }
}

/// A negative syscall result by its errno's name, e.g. -11 → "EAGAIN"; "errno N" when the number
/// has no name.
pub fn result_errno_name(result: i64) -> String {
    let n = result.unsigned_abs();
    i32::try_from(n)
        .ok()
        .and_then(|e| Errno(e).name())
        .map_or_else(|| format!("errno {n}"), str::to_owned)
}

/// Second names of a number that has a first: never printed, still parsed.
const ALIASES: [&str; 3] = ["EWOULDBLOCK", "EDEADLOCK", "ENOTSUP"];

/// Generated from <errno.h> like src/basic/generate-errno-list.sh does; x86-64/generic
/// numbering (the kernel programs are x86_64 only, and so are the numbers a recording holds).
#[rustfmt::skip]
const ERRNO_NAMES: &[(&str, i32)] = &[
    ("E2BIG", 7), ("EACCES", 13), ("EADDRINUSE", 98), ("EADDRNOTAVAIL", 99), ("EADV", 68),
    ("EAFNOSUPPORT", 97), ("EAGAIN", 11), ("EALREADY", 114), ("EBADE", 52), ("EBADF", 9),
    ("EBADFD", 77), ("EBADMSG", 74), ("EBADR", 53), ("EBADRQC", 56), ("EBADSLT", 57),
    ("EBFONT", 59), ("EBUSY", 16), ("ECANCELED", 125), ("ECHILD", 10), ("ECHRNG", 44),
    ("ECOMM", 70), ("ECONNABORTED", 103), ("ECONNREFUSED", 111), ("ECONNRESET", 104),
    ("EDEADLK", 35), ("EDEADLOCK", 35), ("EDESTADDRREQ", 89), ("EDOM", 33), ("EDOTDOT", 73),
    ("EDQUOT", 122), ("EEXIST", 17), ("EFAULT", 14), ("EFBIG", 27), ("EHOSTDOWN", 112),
    ("EHOSTUNREACH", 113), ("EHWPOISON", 133), ("EIDRM", 43), ("EILSEQ", 84),
    ("EINPROGRESS", 115), ("EINTR", 4), ("EINVAL", 22), ("EIO", 5), ("EISCONN", 106),
    ("EISDIR", 21), ("EISNAM", 120), ("EKEYEXPIRED", 127), ("EKEYREJECTED", 129),
    ("EKEYREVOKED", 128), ("EL2HLT", 51), ("EL2NSYNC", 45), ("EL3HLT", 46), ("EL3RST", 47),
    ("ELIBACC", 79), ("ELIBBAD", 80), ("ELIBEXEC", 83), ("ELIBMAX", 82), ("ELIBSCN", 81),
    ("ELNRNG", 48), ("ELOOP", 40), ("EMEDIUMTYPE", 124), ("EMFILE", 24), ("EMLINK", 31),
    ("EMSGSIZE", 90), ("EMULTIHOP", 72), ("ENAMETOOLONG", 36), ("ENAVAIL", 119),
    ("ENETDOWN", 100), ("ENETRESET", 102), ("ENETUNREACH", 101), ("ENFILE", 23),
    ("ENOANO", 55), ("ENOBUFS", 105), ("ENOCSI", 50), ("ENODATA", 61), ("ENODEV", 19),
    ("ENOENT", 2), ("ENOEXEC", 8), ("ENOKEY", 126), ("ENOLCK", 37), ("ENOLINK", 67),
    ("ENOMEDIUM", 123), ("ENOMEM", 12), ("ENOMSG", 42), ("ENONET", 64), ("ENOPKG", 65),
    ("ENOPROTOOPT", 92), ("ENOSPC", 28), ("ENOSR", 63), ("ENOSTR", 60), ("ENOSYS", 38),
    ("ENOTBLK", 15), ("ENOTCONN", 107), ("ENOTDIR", 20), ("ENOTEMPTY", 39), ("ENOTNAM", 118),
    ("ENOTRECOVERABLE", 131), ("ENOTSOCK", 88), ("ENOTSUP", 95), ("ENOTTY", 25),
    ("ENOTUNIQ", 76), ("ENXIO", 6), ("EOPNOTSUPP", 95), ("EOVERFLOW", 75), ("EOWNERDEAD", 130),
    ("EPERM", 1), ("EPFNOSUPPORT", 96), ("EPIPE", 32), ("EPROTO", 71), ("EPROTONOSUPPORT", 93),
    ("EPROTOTYPE", 91), ("ERANGE", 34), ("EREMCHG", 78), ("EREMOTE", 66), ("EREMOTEIO", 121),
    ("ERESTART", 85), ("ERFKILL", 132), ("EROFS", 30), ("ESHUTDOWN", 108),
    ("ESOCKTNOSUPPORT", 94), ("ESPIPE", 29), ("ESRCH", 3), ("ESRMNT", 69), ("ESTALE", 116),
    ("ESTRPIPE", 86), ("ETIME", 62), ("ETIMEDOUT", 110), ("ETOOMANYREFS", 109), ("ETXTBSY", 26),
    ("EUCLEAN", 117), ("EUNATCH", 49), ("EUSERS", 87), ("EWOULDBLOCK", 11), ("EXDEV", 18),
    ("EXFULL", 54),
];

#[cfg(test)]
mod tests;
