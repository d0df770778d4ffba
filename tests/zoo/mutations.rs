//! Every reader against thousands of damaged copies of real files: cut short, bits flipped,
//! header fields set to huge values, bytes overwritten. Each must return (a value or an
//! error), never panic, and never allocate far beyond what the file could hold: the largest
//! single allocation while reading a mutant is bounded (see each reader's bound).
//! The same inputs, for longer, are fuzz targets in `fuzz/` (`cargo +nightly fuzz run`).

use std::io::Read;
use std::path::Path;

use burn::prelude::*;
use zoo_train::recipes::{MlpRecipe, Recipe};

use crate::common::{fixture, largest_allocation, manifest_dir};

/// Deterministic damaged copies of `original` (a different mix for each `seed`).
fn mutants(original: &[u8], count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state = zoo_data::rng::splitmix_step(state);
        state
    };
    (0..count)
        .map(|_| {
            let mut bytes = original.to_vec();
            if bytes.is_empty() {
                return bytes;
            }
            match next() % 5 {
                // Cut short anywhere.
                0 => bytes.truncate(next() as usize % bytes.len()),
                // A few bits flipped.
                1 => {
                    for _ in 0..1 + next() % 4 {
                        let at = next() as usize % bytes.len();
                        bytes[at] ^= 1 << (next() % 8);
                    }
                }
                // A 32-bit field, most likely a header's, set to a huge or odd value.
                2 => {
                    let at = (next() as usize % bytes.len().min(64)).min(bytes.len().saturating_sub(4));
                    let huge = [0x7fff_ffffu32, 0xffff_ffff, 0x8000_0000, 0x0001_0000, 0][next() as usize % 5];
                    let end = (at + 4).min(bytes.len());
                    bytes[at..end].copy_from_slice(&huge.to_be_bytes()[..end - at]);
                }
                // A run of bytes overwritten with one value (a zeroed or 0xff block).
                3 => {
                    let at = next() as usize % bytes.len();
                    let len = (1 + next() as usize % 64).min(bytes.len() - at);
                    let value = [0u8, 0xff, b'"', b',', b'\n', b'{'][next() as usize % 6];
                    bytes[at..at + len].fill(value);
                }
                // A slice repeated: lengths and counts no longer agree.
                _ => {
                    let at = next() as usize % bytes.len();
                    let len = (1 + next() as usize % 256).min(bytes.len() - at);
                    let copy = bytes[at..at + len].to_vec();
                    let to = next() as usize % bytes.len();
                    bytes.splice(to..to, copy);
                }
            }
            bytes
        })
        .collect()
}

/// Reads every mutant of `original` with `read` (file-based readers get it written at
/// `path`); fails on a panic or an allocation above `bound(mutant length)`. Returns how many
/// mutants were read without error (some mutations leave a valid file).
fn check_reader(
    what: &str,
    original: &[u8],
    count: usize,
    path: Option<&Path>,
    bound: impl Fn(usize) -> usize,
    read: impl Fn(&[u8]) -> bool,
) -> usize {
    let mut accepted = 0;
    for (i, mutant) in mutants(original, count, 0xF022 ^ original.len() as u64).iter().enumerate() {
        if let Some(path) = path {
            std::fs::write(path, mutant).unwrap();
        }
        let (outcome, largest) =
            largest_allocation(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(mutant))));
        let ok = outcome.unwrap_or_else(|_| panic!("{what}: mutant {i} ({} bytes) panicked", mutant.len()));
        assert!(
            largest <= bound(mutant.len()),
            "{what}: mutant {i} ({} bytes) made an allocation of {largest} bytes",
            mutant.len()
        );
        accepted += usize::from(ok);
    }
    accepted
}

fn gunzip(path: &str) -> Vec<u8> {
    let file = std::fs::File::open(Path::new(&manifest_dir()).join(path)).unwrap();
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut bytes).unwrap();
    bytes
}

const MIB: usize = 1 << 20;

#[test]
fn idx_readers_survive_damaged_files_within_their_size() {
    // The shipped extract's first 64 test images and labels, headers saying 64.
    let images = gunzip("assets/mnist/t10k-images-idx3-ubyte.gz");
    let mut small = images[..16 + 64 * 784].to_vec();
    small[4..8].copy_from_slice(&64u32.to_be_bytes());
    let labels = gunzip("assets/mnist/t10k-labels-idx1-ubyte.gz");
    let mut few = labels[..8 + 64].to_vec();
    few[4..8].copy_from_slice(&64u32.to_be_bytes());
    // The watch sees a reader's allocations: the original's pixels are one of them.
    let (read, largest) = largest_allocation(|| zoo_data::idx::parse_images(&small, Path::new("images")).is_ok());
    assert!(read && largest >= 64 * 784, "largest allocation {largest}");
    let path = Path::new("t10k-images-idx3-ubyte");
    // A reader copies at most the file: no header makes it reserve more.
    let within = |len: usize| 2 * len + 64 * 1024;
    let ok = check_reader("IDX images", &small, 3000, None, within, |b| zoo_data::idx::parse_images(b, path).is_ok());
    assert!(ok < 3000, "damage is noticed");
    check_reader("IDX labels", &few, 2000, None, within, |b| zoo_data::idx::parse_labels(b, path).is_ok());
}

#[test]
fn series_and_csv_readers_survive_damaged_files() {
    let text = std::fs::read_to_string(Path::new(&manifest_dir()).join("assets/timeseries/co2_weekly.csv")).unwrap();
    let head: String = text.lines().take(300).map(|l| format!("{l}\n")).collect();
    assert!(zoo_data::series::parse(&head, "co2.csv").is_ok());
    let bound = |len: usize| 64 * len + MIB;
    let series = |b: &[u8]| zoo_data::series::parse(&String::from_utf8_lossy(b), "co2_weekly.csv").is_ok();
    check_reader("series CSV", head.as_bytes(), 3000, None, bound, series);
    let csv = |b: &[u8]| zoo_data::corpus::parse_csv(&String::from_utf8_lossy(b)).is_ok();
    check_reader("document CSV", head.as_bytes(), 2000, None, bound, csv);
}

#[test]
fn document_files_survive_damage() {
    // Three speeches of the shipped corpus, each cut to 2,000 characters, as JSONL.
    let corpus = String::from_utf8(gunzip("assets/text/sotu.jsonl.gz")).unwrap();
    let mut lines = String::new();
    for line in corpus.lines().take(3) {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        let text: String = record["text"].as_str().unwrap().chars().take(2000).collect();
        record["text"] = serde_json::Value::String(text);
        lines.push_str(&format!("{record}\n"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("speeches.jsonl");
    let name = path.to_str().unwrap().to_string();
    let read = |_: &[u8]| {
        let source = zoo_data::corpus::DocumentSource { data: &name, text_field: "text", label_field: "party" };
        zoo_data::corpus::load_documents(&source).is_ok()
    };
    std::fs::write(&path, &lines).unwrap();
    assert!(read(&[]), "the original reads");
    check_reader("JSONL documents", lines.as_bytes(), 1500, Some(&path), |len| 64 * len + MIB, read);
}

#[test]
fn recipe_and_run_folder_json_survive_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = zoo_train::recipes::default_json::<MlpRecipe>();
    let path = tmp.path().join("recipe.json");
    let load = |_: &[u8]| zoo_train::recipes::load_recipe::<MlpRecipe>(&path).is_ok();
    check_reader("recipe JSON", recipe.as_bytes(), 2000, Some(&path), |len| 64 * len + MIB, load);

    // A real run folder's run.json and config.json.
    let run_dir = tmp.path().join("run");
    let run = zoo_train::run::RunDir::start(Some(&run_dir), &MlpRecipe::default_recipe(), "embedded", "cpu").unwrap();
    drop(run);
    let open = |_: &[u8]| {
        zoo_train::run::RunDir::open(&run_dir, "mlp").and_then(|(run, _)| run.read_recipe::<MlpRecipe>()).is_ok()
    };
    for file in ["run.json", "config.json"] {
        let original = std::fs::read(run_dir.join(file)).unwrap();
        check_reader(file, &original, 1500, Some(&run_dir.join(file)), |len| 64 * len + MIB, open);
        std::fs::write(run_dir.join(file), original).unwrap();
    }
}

#[test]
fn pictures_survive_damage_within_the_decoders_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let png = std::fs::read(fixture("digit-7.png")).unwrap();
    let mut jpeg = Vec::new();
    image::load_from_memory(&png)
        .unwrap()
        .to_luma8()
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    // What the decoder may allocate for a small file: 64 MiB (see image_prep::decode).
    let bound = |len: usize| (len * 2048).max(64 * MIB) + MIB;
    for (what, original, name) in [("PNG", &png, "digit.png"), ("JPEG", &jpeg, "digit.jpg")] {
        let path = tmp.path().join(name);
        let load = |_: &[u8]| zoo_data::image_prep::load_as_mnist(&path).is_ok();
        check_reader(what, original, 1500, Some(&path), bound, load);
    }
}

#[test]
fn weights_and_checkpoints_survive_damage() {
    let _rng = crate::common::rng_lock();
    let device = Device::flex();
    let mlp = zoo_models::MlpConfig::new().init(&device);
    let bytes = zoo_train::checkpoint::module_bytes(&mlp).unwrap();
    let path = Path::new("checkpoint/model.bpk");
    // A record's tensors are what it holds: no header makes the reader reserve more.
    let bound = |len: usize| 4 * len + MIB;
    let load = |b: &[u8]| zoo_train::checkpoint::load_module(mlp.clone(), b.to_vec(), path).is_ok();
    check_reader("weights record", &bytes, 400, None, bound, load);

    let narrow = zoo_models::CnnConfig::new().with_conv1_channels(8).with_conv2_channels(16).with_hidden(32);
    let tmp = tempfile::tempdir().unwrap();
    for file in ["cnn.safetensors", "cnn.pth"] {
        let original = std::fs::read(fixture(&format!("weights/{file}"))).unwrap();
        let path = tmp.path().join(file);
        let import = |_: &[u8]| zoo_train::weights::import(narrow.init(&device), &path).is_ok();
        check_reader(file, &original, 300, Some(&path), bound, import);
    }
}
