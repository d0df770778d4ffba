//! What the benches share: timing a call.

use std::time::{Duration, Instant};

/// Milliseconds per call of `f`, over about `budget` (at least 3 calls, after one warm-up).
pub fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let (started, mut calls) = (Instant::now(), 0u32);
    while started.elapsed() < budget || calls < 3 {
        f();
        calls += 1;
    }
    started.elapsed().as_secs_f64() * 1e3 / f64::from(calls)
}
