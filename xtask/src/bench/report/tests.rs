use super::quartiles;

#[test]
fn quartiles_interpolate_between_neighbours() {
    assert_eq!(quartiles(&mut [3.0, 1.0, 2.0, 5.0, 4.0]), (2.0, 3.0, 4.0));
    assert_eq!(quartiles(&mut [1.0, 2.0]), (1.25, 1.5, 1.75));
    assert_eq!(quartiles(&mut [7.0]), (7.0, 7.0, 7.0));
    assert!(quartiles(&mut []).1.is_nan());
    assert_eq!(super::median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
}
