use super::*;

#[test]
fn round_trip() {
    let f = encode(b"{\"a\":1}");
    assert_eq!(decode(&f), Ok((&b"{\"a\":1}"[..], f.len())));
    assert_eq!(check_header(&header()), Ok(VERSION));
}

#[test]
fn every_truncation_is_reported_not_misread() {
    let f = encode(b"hello world");
    for cut in 0..f.len() {
        let e = decode(&f[..cut]).unwrap_err();
        assert!(matches!(e, FrameError::Truncated(_)), "cut {cut}: {e:?}");
    }
    for cut in 1..HEADER_LEN {
        assert!(matches!(
            check_header(&header()[..cut]),
            Err(FrameError::Truncated(_))
        ));
    }
    assert_eq!(check_header(&[]), Err(FrameError::Empty));
}

#[test]
fn every_bit_flip_is_caught() {
    let f = encode(b"READY=1");
    for byte in 0..f.len() {
        for bit in 0..8 {
            let mut g = f.clone();
            g[byte] ^= 1 << bit;
            assert!(decode(&g).is_err(), "flip {byte}:{bit} went unnoticed");
        }
    }
}

#[test]
fn header_errors() {
    assert_eq!(check_header(b"GARBAGE!xxxxxxxx"), Err(FrameError::Magic));
    let mut h = header();
    h[8] = 2;
    assert_eq!(check_header(&h), Err(FrameError::FutureVersion(2)));
}

#[test]
fn resync_skips_damage() {
    let mut bytes = encode(b"one");
    let second = bytes.len();
    bytes.extend(encode(b"two"));
    bytes[5] ^= 0xff;
    assert!(decode(&bytes).is_err());
    let mut r = std::io::Cursor::new(&bytes);
    assert_eq!(resync(&mut r, 1), Ok(Some(second as u64)));
    assert_eq!(resync(&mut r, second as u64 + 1), Ok(None));
}

#[test]
fn resync_finds_a_frame_across_windows() {
    // Garbage with stray markers, a frame straddling the 64 KiB window's end, more after.
    let mut bytes = vec![0x55u8; 64 * 1024 - 6];
    bytes[100..104].copy_from_slice(SYNC);
    let at = bytes.len();
    bytes.extend(encode(b"found"));
    bytes.extend(vec![0xaa; 1000]);
    let mut r = std::io::Cursor::new(&bytes);
    assert_eq!(resync(&mut r, 1), Ok(Some(at as u64)));
}

#[test]
fn streamed_frames_read_like_decoded_ones() {
    let mut bytes = encode(b"one");
    bytes.extend(encode(b"{}"));
    let mut r = std::io::Cursor::new(&bytes);
    let mut body = Vec::new();
    assert_eq!(read(&mut r, &mut body), Ok(Some(FRAME_OVERHEAD + 3)));
    assert_eq!(body, b"one");
    assert_eq!(read(&mut r, &mut body), Ok(Some(FRAME_OVERHEAD + 2)));
    assert_eq!(read(&mut r, &mut body), Ok(None));
    let f = encode(b"hello world");
    for cut in 1..f.len() {
        let mut r = std::io::Cursor::new(&f[..cut]);
        assert_eq!(read(&mut r, &mut body), Err(decode(&f[..cut]).unwrap_err()));
    }
    // A length claiming more than a body may hold is damage: nothing that large is read.
    let mut huge = SYNC.to_vec();
    huge.extend((BODY_MAX + 1).to_le_bytes());
    huge.extend([0; 4]);
    let mut r = std::io::Cursor::new(&huge);
    assert_eq!(
        read(&mut r, &mut body),
        Err(FrameError::Length(BODY_MAX + 1))
    );
}
