use anyhow::{Context as _, anyhow};
use aya_build::Toolchain;

/// Builds the eBPF crate for the BPF target (with the pinned nightly from rust-toolchain.toml)
/// into OUT_DIR, where `include_bytes_aligned!` embeds it into the binary.
fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?;
    let workspace = std::path::Path::new(&manifest_dir)
        .parent()
        .ok_or_else(|| anyhow!("no workspace dir"))?;
    let ebpf_dir = workspace.join("observer-ebpf");
    let toolchain = pinned_channel(&workspace.join("rust-toolchain.toml"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "observer-ebpf",
            root_dir: ebpf_dir.to_str().ok_or_else(|| anyhow!("non UTF-8 path"))?,
            ..Default::default()
        }],
        Toolchain::Custom(Box::leak(toolchain.into_boxed_str())),
    )
}

/// The one pinned nightly lives in rust-toolchain.toml; read it rather than repeat it.
fn pinned_channel(path: &std::path::Path) -> anyhow::Result<String> {
    println!("cargo::rerun-if-changed={}", path.display());
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("channel"))
        .map(|v| {
            v.trim_start_matches([' ', '='])
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .ok_or_else(|| anyhow!("no channel in {}", path.display()))
}
