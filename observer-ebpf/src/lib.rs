#![no_std]
// This file exists so that observer can name this crate as a build-dependency: cargo then
// rebuilds the eBPF object when anything here changes. The programs are in main.rs.
