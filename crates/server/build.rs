//! Links the release `flowspace` binary with the functions of `symbol-order.txt` (what the
//! server runs at start-up and on the common requests, profiled by `scripts/symbol-order`)
//! next to each other at the start of its code. The kernel maps a program's code in 64 KiB
//! runs around each page it touches; laid out as the compiler leaves it, the 3–4 MB a running
//! server uses are spread over the whole text and made about 15 MB of it resident, together
//! they make 7 MB (docs/benchmarks.md, "Code that stays together").
//!
//! Only where the linker is known to be LLD, Rust's default for x86_64 Linux, which reads the
//! file with `--symbol-ordering-file`: with another linker (a `linker` set in Cargo's
//! configuration or the flags) the binary is linked as usual. Names the file lists that the
//! binary no longer has are skipped without a warning, so a stale file costs memory, never a
//! failed build.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let default_linker = var("RUSTC_LINKER").is_empty()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && var("TARGET") == "x86_64-unknown-linux-gnu";
    if var("PROFILE") != "release" || !default_linker {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    if !order.is_file() {
        return;
    }
    println!(
        "cargo::rustc-link-arg-bin=flowspace=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo::rustc-link-arg-bin=flowspace=-Wl,--no-warn-symbol-ordering");
}
