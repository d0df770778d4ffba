//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::prelude::*;
use zoo_data::{ImageSet, Split, embedded};

/// Held by every test that seeds a device or draws from its generator (initialisation,
/// dropout): the generator is global, and tests run in parallel threads would otherwise draw
/// from each other's stream and break the determinism checks.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The zoo binary built with the tests.
pub fn zoo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo")).args(args).env_remove("ZOO_DEVICE").output().expect("the zoo binary runs")
}

/// [`zoo`] run in the folder `dir`.
pub fn zoo_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(args)
        .current_dir(dir)
        .env_remove("ZOO_DEVICE")
        .output()
        .expect("the zoo binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run: the exit code, one line of error naming `mentions`, no panic.
pub fn assert_clean_error(output: &Output, code: i32, mentions: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(err.contains(mentions), "error should mention {mentions:?}: {err}");
    assert!(!err.contains("panicked"), "no panic for a user mistake: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line of error: {err}");
}

/// The package folder: cargo sets it when it runs the tests; the compile-time value is only a
/// fallback, since a target folder reused by another checkout would point there.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(&manifest_dir()).join("tests/fixtures").join(name)
}

/// The first `n` training images of the embedded extract as a batch on `device`.
pub fn real_batch(n: usize, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let set: ImageSet = embedded::mnist_extract(Split::Train).expect("embedded extract decodes");
    let pixels: Vec<f32> = set.images[..n * 784].iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels: Vec<i64> = set.labels[..n].iter().map(|&l| i64::from(l)).collect();
    (
        Tensor::from_data(TensorData::new(pixels, [n, 1, 28, 28]), device),
        Tensor::from_data(TensorData::new(labels, [n]), device),
    )
}

/// A tensor's values, read back from the device.
pub fn floats<const D: usize>(tensor: burn::prelude::Tensor<D>) -> Vec<f32> {
    zoo_train::read::floats(tensor).expect("tensor read-back")
}

/// The test binary's allocator: the system's, which also notes the largest single allocation
/// a thread makes while [`largest_allocation`] watches it (the readers' property tests bound
/// what a damaged file can make them allocate).
pub struct Tracking;

thread_local! {
    static WATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note(size: usize) {
    let _ = WATCHING.try_with(|watching| {
        if watching.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

unsafe impl std::alloc::GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the largest single allocation this thread made in it.
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    WATCHING.with(|watching| watching.set(true));
    let result = f();
    WATCHING.with(|watching| watching.set(false));
    (result, LARGEST.with(std::cell::Cell::get))
}
