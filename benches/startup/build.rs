//! Writes N `#[iii::function]`s (N = III_BENCH_FUNCTIONS, default 1000), each
//! with its own input struct and an HTTP trigger, like a large real worker.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-env-changed=III_BENCH_FUNCTIONS");
    println!("cargo:rerun-if-env-changed=III_BENCH_PLAIN");
    println!("cargo:rerun-if-env-changed=III_BENCH_EDIT");
    // III_BENCH_EDIT=k: adds k in the body of `f0`, to time the rebuild
    // after editing one handler (the daily loop).
    let edit: u64 = std::env::var("III_BENCH_EDIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // III_BENCH_PLAIN=1: the same functions and derives without the iii
    // attributes, to tell the macros' share of the build time.
    // III_BENCH_PLAIN=2: the build floor. No iii attributes, but each
    // function is used as a worker must use it at least once: its input
    // decoded from a `serde_json::Value`, its future boxed as a `dyn
    // Future` to be run, and its input's schema generated, from a table
    // `main` reads, so the compiler generates that code as it does for a
    // worker. (Before issue 20's seventeenth round the floor did not box
    // the handler's future, so the handler was never compiled.)
    // III_BENCH_PLAIN=3: the start-up floor. No iii attributes; `main`
    // registers the same functions and routes as a bare protocol client
    // (`src/bare.rs`), their schemas generated as the SDK generates them.
    let mode = std::env::var("III_BENCH_PLAIN").unwrap_or_default();
    let plain = matches!(mode.as_str(), "1" | "2" | "3");
    let floor = mode == "2";
    let bare = mode == "3";
    let n: usize = std::env::var("III_BENCH_FUNCTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut code = String::new();
    for i in 0..n {
        let _ = write!(
            code,
            r#"
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct Input{i} {{ pub id: u64, pub name: String, pub tags: Vec<String> }}

/// Function number {i}.
{attrs}
pub async fn f{i}(input: Input{i}) -> u64 {{ input.id + {i} + {e} }}
"#,
            e = if i == 0 { edit } else { 0 },
            attrs = if plain {
                String::new()
            } else {
                format!(
                    "#[iii::function(id = \"bench::f{i}\")]\n#[iii::trigger(http, path = \"/bench/{i}/:id\", method = \"POST\")]"
                )
            }
        );
    }
    // Each table is empty unless its mode asks for it.
    table(
        &mut code,
        "/// Each function used once, when III_BENCH_PLAIN=2.\npub static FLOOR: &[fn(serde_json::Value) -> (Option<Handled>, serde_json::Value)]",
        if floor { n } else { 0 },
        |i| {
            format!(
                "|v| (serde_json::from_value::<Input{i}>(v).ok().map(|x| Box::pin(f{i}(x)) as Handled), schemars::schema_for!(Input{i}).to_value())"
            )
        },
    );
    table(
        &mut code,
        "/// Each input type's schema, when III_BENCH_PLAIN=3.\npub static BARE: &[fn(schemars::SchemaGenerator) -> schemars::Schema]",
        if bare { n } else { 0 },
        |i| format!("schemars::SchemaGenerator::into_root_schema_for::<Input{i}>"),
    );
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("functions.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// Writes `declaration = &[..];` with `entry(i)` for each `i` below `n`.
fn table(code: &mut String, declaration: &str, n: usize, entry: impl Fn(usize) -> String) {
    let _ = writeln!(code, "\n{declaration} = &[");
    for i in 0..n {
        let _ = writeln!(code, "    {},", entry(i));
    }
    let _ = writeln!(code, "];");
}
