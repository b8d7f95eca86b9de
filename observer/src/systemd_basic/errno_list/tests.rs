use super::*;

#[test]
fn names_read_back_as_their_numbers() {
    for &(name, e) in ERRNO_NAMES {
        assert_eq!(Errno::from_name(name.as_bytes()), Some(Errno(e)), "{name}");
        if !ALIASES.contains(&name) {
            assert_eq!(Errno(e).name(), Some(name));
        }
    }
}

#[test]
fn numbers_agree_with_libc() {
    for (e, name) in [
        (libc::EPERM, "EPERM"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::EDEADLK, "EDEADLK"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::EHWPOISON, "EHWPOISON"),
    ] {
        assert_eq!(Errno(e).name(), Some(name));
    }
}

#[test]
fn results_are_named() {
    assert_eq!(result_errno_name(-11), "EAGAIN");
    assert_eq!(result_errno_name(-111), "ECONNREFUSED");
    assert_eq!(result_errno_name(-95), "EOPNOTSUPP");
    assert_eq!(result_errno_name(-4095), "errno 4095");
    assert_eq!(result_errno_name(i64::MIN), "errno 9223372036854775808");
}
