use super::*;

const SAMPLE: &str = "ffffffff82131c40 t unix_seqpacket_recvmsg\n\
        ffffffff81e9b680 T skb_free_datagram\n\
        ffffffff81e9b690 t __pfx_crc32c_and_copy_to_iter\n\
        ffffffff82131780 T __unix_dgram_recvmsg\n\
        ffffffff82131c00 t unix_dgram_recvmsg\n\
        ffffffffc0001000 t some_fn\t[some_module]\n";

#[test]
fn a_range_ends_at_the_next_symbol_in_address_order() {
    assert_eq!(
        ranges_in(SAMPLE, &["skb_free_datagram", "__unix_dgram_recvmsg"]),
        Some(vec![
            (0xffffffff81e9b680, 0xffffffff81e9b690),
            (0xffffffff82131780, 0xffffffff82131c00)
        ])
    );
}

#[test]
fn missing_hidden_or_ambiguous_names_give_none() {
    assert_eq!(ranges_in(SAMPLE, &["no_such_function"]), None);
    let hidden = SAMPLE.replace("ffffffff81e9b680", "0000000000000000");
    assert_eq!(ranges_in(&hidden, &["skb_free_datagram"]), None);
    let twice = format!("{SAMPLE}ffffffff83000000 t unix_dgram_recvmsg\n");
    assert_eq!(ranges_in(&twice, &["unix_dgram_recvmsg"]), None);
    // The last symbol has no end.
    assert_eq!(ranges_in(SAMPLE, &["some_fn"]), None);
}
