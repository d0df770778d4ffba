//! The document readers of the text classifier: JSONL and CSV.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = zoo_data::corpus::parse_documents(&text, "fuzz.jsonl", "text", "label");
    let _ = zoo_data::corpus::parse_documents(&text, "fuzz.csv", "text", "label");
});
