//! Pictures for `zoo predict`: PNG or JPEG bytes decoded and prepared as MNIST does.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = zoo_data::image_prep::mnist_from_bytes(data, std::path::Path::new("fuzz.png"));
});
