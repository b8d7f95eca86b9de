use observer_common::unwatched::{GENERATION_MASK, next, slot, tag};

const INO: u64 = 3_141_592;

#[test]
fn the_first_generation_is_1_and_tags_are_never_empty() {
    assert_eq!(next(0), (1, false));
    assert_ne!(tag(0, 1), 0, "even a zero address tags as non-empty");
    assert_ne!(tag(INO, 1), tag(INO, 2), "another generation, another tag");
    assert_ne!(tag(INO, 1), tag(INO + 1, 1), "another socket, another tag");
}

#[test]
fn the_tag_bits_skip_zero_and_say_when_they_start_over() {
    let (n, wrapped) = next(GENERATION_MASK);
    assert_eq!(n & GENERATION_MASK, 1);
    assert!(wrapped);
    assert_ne!(tag(INO, n), tag(0, 0));
    assert_eq!(next(5), (6, false));
}

#[test]
fn consecutive_sockets_take_different_slots() {
    let slots: std::collections::BTreeSet<u32> = (0..1024).map(|i| slot(INO + i)).collect();
    assert_eq!(slots.len(), 1024);
    assert!(slots.iter().all(|s| *s < observer_common::unwatched::SLOTS));
}
