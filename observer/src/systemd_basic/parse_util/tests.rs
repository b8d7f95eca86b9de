use super::*;

#[test]
fn pid_parsing_mirrors_parse_pid() {
    // parse_pid() → safe_atolu() → strtoull(base 0) (parse-util.c:47,423 v252.39).
    assert_eq!(parse_pid(b"42"), Ok(42));
    assert_eq!(parse_pid(b" 42"), Ok(42)); // leading WHITESPACE skipped
    assert_eq!(parse_pid(b"+42"), Ok(42));
    assert_eq!(parse_pid(b"0x10"), Ok(16)); // strtoull base 0
    assert_eq!(parse_pid(b"017"), Ok(15)); // … including C octal
    assert_eq!(parse_pid(b"0b101"), Ok(5)); // mangle_base()
    assert_eq!(parse_pid(b"0o17"), Ok(15));
    assert_eq!(parse_pid(b"42 "), Err(Errno::EINVAL));
    assert_eq!(parse_pid(b""), Err(Errno::EINVAL));
    assert_eq!(parse_pid(b"0x"), Err(Errno::EINVAL));
    assert_eq!(parse_pid(b"abc"), Err(Errno::EINVAL));
    assert_eq!(parse_pid(b"0"), Err(Errno::ERANGE)); // pid_is_valid()
    assert_eq!(parse_pid(b"-1"), Err(Errno::ERANGE));
    assert_eq!(parse_pid(b"-0"), Err(Errno::ERANGE)); // 0 after the '-' check, then invalid
    assert_eq!(parse_pid(b"2147483647"), Ok(i32::MAX as u32));
    assert_eq!(parse_pid(b"2147483648"), Err(Errno::ERANGE));
    assert_eq!(parse_pid(b"99999999999999999999"), Err(Errno::ERANGE));
}

#[test]
fn usec_parsing_mirrors_safe_atou64() {
    assert_eq!(safe_atou64(b"18446744073709551615"), Ok(u64::MAX));
    assert_eq!(safe_atou64(b"18446744073709551616"), Err(Errno::ERANGE));
    assert_eq!(safe_atou64(b"-0"), Ok(0));
    assert_eq!(safe_atou64(b"-5"), Err(Errno::ERANGE));
    assert_eq!(safe_atou64(b"5s"), Err(Errno::EINVAL));
}

#[test]
fn errno_parsing_mirrors_parse_errno() {
    // parse_errno(): name first, then int in 0..=4095 (parse-util.c:301 v252.39).
    assert_eq!(parse_errno(b"ENOENT"), Ok(2));
    assert_eq!(parse_errno(b"2"), Ok(2));
    assert_eq!(parse_errno(b"0"), Ok(0));
    assert_eq!(parse_errno(b"4095"), Ok(4095));
    assert_eq!(parse_errno(b"4096"), Err(Errno::ERANGE));
    assert_eq!(parse_errno(b"-1"), Err(Errno::ERANGE));
    assert_eq!(parse_errno(b"enoent"), Err(Errno::EINVAL));
    assert_eq!(parse_errno(b"99999999999"), Err(Errno::ERANGE));
}
