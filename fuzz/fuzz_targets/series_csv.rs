//! The series CSV reader (`zoo train lstm --data my.csv`) and the CSV parser under it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = zoo_data::series::parse(&text, "fuzz.csv");
    let _ = zoo_data::corpus::parse_csv(&text);
});
