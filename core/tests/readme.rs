//! The README's Rust quick start is `examples/quickstart.rs`, verbatim: this
//! checks that the two are identical and runs the example against a launched
//! redis-server, so the README cannot show code that does not work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // its `main` is for `cargo run --example quickstart`
#[path = "../examples/quickstart.rs"]
mod quickstart;

const README: &str = include_str!("../../README.md");
const EXAMPLE: &str = include_str!("../examples/quickstart.rs");

/// The bodies of the README's fenced blocks tagged exactly `lang`.
fn blocks(lang: &str) -> Vec<String> {
    let fence = format!("```{lang}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        match current.as_mut() {
            None if line == fence => current = Some(String::new()),
            None => {}
            Some(_) if line == "```" => out.extend(current.take()),
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

#[test]
fn readme_rust_block_is_the_example() {
    let rust = blocks("rust");
    assert_eq!(rust.len(), 1, "README.md should have exactly one ```rust block (the quick start)");
    assert_eq!(rust[0], EXAMPLE, "README.md's ```rust block differs from core/examples/quickstart.rs");
}

#[test]
fn readme_rust_example_runs() {
    nearcache::testing::run_with_redis(|url| async move {
        quickstart::quickstart(&url).await?;
        Ok(())
    });
}
