//! `explain(topic)` must match `tests/golden/<topic>.txt` byte for byte.
//!
//! After an intended change to the text, regenerate the files with
//! `ZOO_BLESS=1 cargo test -p zoo-primitives --test explain` and review the diff.

use std::path::PathBuf;

use zoo_primitives::{TOPICS, explain};

fn golden_path(topic: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()))
        .join("tests/golden")
        .join(format!("{topic}.txt"))
}

#[test]
fn explain_matches_the_golden_files() {
    let bless = std::env::var_os("ZOO_BLESS").is_some();
    let mut mismatches = Vec::new();
    for topic in TOPICS {
        let text = explain(topic).expect("known topic");
        let path = golden_path(topic);
        if bless {
            std::fs::write(&path, &text).expect("write golden file");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e} (run with ZOO_BLESS=1 to create it)", path.display()));
        if golden != text {
            let line = golden
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .map_or(golden.lines().count().min(text.lines().count()) + 1, |i| i + 1);
            mismatches.push(format!("{topic}: first difference at line {line}"));
        }
    }
    assert!(mismatches.is_empty(), "explain output differs from the golden files:\n{}", mismatches.join("\n"));
}

#[test]
fn unknown_topic_is_an_error() {
    let err = explain("nope").unwrap_err();
    assert!(err.contains("conv") && err.contains("backprop") && !err.contains('\n'));
}
