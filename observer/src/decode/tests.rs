use super::*;

fn header(payload_len: u32, hook: u32) -> SendEvent {
    // SAFETY: plain data, all-zero is valid.
    let mut ev: SendEvent = unsafe { std::mem::zeroed() };
    ev.payload_len = payload_len;
    ev.len = payload_len;
    ev.hook = hook;
    ev.tgid = 42;
    ev.comm[..4].copy_from_slice(b"demo");
    ev
}

fn bytes(ev: &SendEvent, payload: &[u8]) -> Vec<u8> {
    // SAFETY: reading the bytes of a plain-data struct.
    let mut v = unsafe {
        std::slice::from_raw_parts(
            (ev as *const SendEvent).cast::<u8>(),
            size_of::<SendEvent>(),
        )
    }
    .to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn decodes_header_and_payload() {
    let rec = bytes(&header(7, Hook::SockSendLength as u32), b"READY=1");
    let ev = decode(&rec, &Clock::now()).unwrap();
    assert_eq!(
        (ev.pid, ev.comm.as_str(), ev.payload.as_slice()),
        (42, "demo", &b"READY=1"[..])
    );
    assert_eq!(ev.hook, Hook::SockSendLength);
    assert!(!ev.truncated());
}

#[test]
fn a_send_of_more_iovecs_than_walked_is_never_complete() {
    // 40 iovecs of 1 byte: the kernel side walked 32, flagged the rest, and the send's
    // result says 40 bytes went out.
    let mut h = header(32, Hook::SockSendLength as u32);
    h.flags = flags::IOV_TRUNCATED;
    h.result = 40;
    let ev = decode(&bytes(&h, &[b'x'; 32]), &Clock::now()).unwrap();
    assert_eq!(ev.len, 40);
    assert!(ev.truncated());
    assert_eq!(
        ev.incomplete_text().unwrap(),
        "[32 of 40 bytes: the send had more than the 32 iovecs captured]"
    );
    // A failed send says no length: the flag alone still marks it.
    h.result = -11;
    let ev = decode(&bytes(&h, &[b'x'; 32]), &Clock::now()).unwrap();
    assert_eq!(ev.len, 32);
    assert!(ev.truncated());
    // fentry walks back from the end of a send: more iovecs than it walks leave the flag
    // unset, but the result is longer than what was walked.
    let mut h = header(32, Hook::Fentry as u32);
    h.result = 5000;
    let ev = decode(&bytes(&h, &[b'x'; 32]), &Clock::now()).unwrap();
    assert!(ev.truncated() && ev.len == 5000);
    assert_eq!(ev.incomplete_text().unwrap(), "[32 of 5000 bytes]");
}

#[test]
fn short_and_lying_records_are_errors() {
    assert_eq!(
        decode(&[0; 10], &Clock::now()).unwrap_err(),
        DecodeError::Short(10)
    );
    let rec = bytes(&header(100, 1), b"abc");
    assert!(matches!(
        decode(&rec, &Clock::now()),
        Err(DecodeError::PayloadLength {
            claimed: 100,
            carried: 3
        })
    ));
    let rec = bytes(&header(0, 99), b"");
    assert_eq!(
        decode(&rec, &Clock::now()).unwrap_err(),
        DecodeError::Hook(99)
    );
}

#[test]
fn addresses_render_paths_and_abstract_names() {
    let mut raw = [0u8; SUN_PATH_MAX];
    raw[..5].copy_from_slice(b"/a/b\0");
    assert_eq!(address(&raw, 5), "/a/b");
    let mut raw = [0u8; SUN_PATH_MAX];
    raw[1..4].copy_from_slice(b"x\0y");
    assert_eq!(address(&raw, 4), "@x\\0y");
    assert_eq!(address(&raw, 0), "");
}
