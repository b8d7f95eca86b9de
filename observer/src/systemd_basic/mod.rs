//! Ports of systemd's src/basic/, one file per C file it mirrors (`parse_util.rs` mirrors
//! src/basic/parse-util.c), each function named after the C function it follows. Pure: values
//! in, values out. What they are used for (a notify payload, a cgroup path) lives elsewhere.

pub mod errno_list;
