//! Ports of systemd's src/basic/, one file per C file it mirrors (`parse_util.rs` mirrors
//! src/basic/parse-util.c), each function named after the C function it follows. Pure: values
//! in, values out. What they are used for (a notify payload, a cgroup path) lives elsewhere:
//! `notify/`, `correlate/`, `verdict/`.

pub mod cgroup_util;
pub mod errno_list;
pub mod escape;
pub mod fd_util;
pub mod parse_util;
pub mod string_util;
pub mod strv;
pub mod unit_def;
pub mod unit_name;
