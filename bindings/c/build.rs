//! Gives the shared library the SONAME it is installed under
//! (`libnearcache.so.0`, see Cargo.toml's `[lib]` comment), so programs
//! linked against the installed `libnearcache.so` record that name.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnearcache.so.0");
    }
}
