//! The IDX reader (MNIST's format): images and labels from any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz-idx3-ubyte");
    let _ = zoo_data::idx::parse_images(data, path);
    let _ = zoo_data::idx::parse_labels(data, path);
});
