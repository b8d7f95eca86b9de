use super::*;

#[test]
fn crc32_is_the_ieee_one() {
    // The check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
}
