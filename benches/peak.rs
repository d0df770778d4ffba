//! The machine's peak FP32 rate: the best sustained fused multiply-add rate of every core at
//! once, measured with independent FMA chains in registers (no memory traffic), with the
//! widest vector instructions the CPU has. It is the ceiling no training step can pass; the
//! throughput bench divides each step's FLOPs per second by it (its utilisation column).
//!
//! `cargo bench --bench peak` prints it alone; `benches/throughput.rs` includes this file.

use std::time::Instant;

/// The peak as measured: FLOP/s of all cores together and of one, and the instructions used.
pub struct Peak {
    pub all_cores: f64,
    pub one_core: f64,
    pub threads: usize,
    pub instructions: &'static str,
}

/// Rounds per call of a kernel below, each a multiply-add on every one of its independent
/// chains: about 0.05-0.2 s a call, long against starting a thread.
const ROUNDS: usize = 1 << 23;

/// The widest FMA the CPU has, as (kernel, FLOPs per call, name).
fn kernel() -> (fn() -> f32, f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // 16 lanes, 2 FLOPs per lane and FMA.
            return (x86::avx512, (x86::CHAINS_512 * ROUNDS * 16 * 2) as f64, "AVX-512 FMA (16 lanes)");
        }
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx") {
            return (x86::avx2, (x86::CHAINS_256 * ROUNDS * 8 * 2) as f64, "AVX2 FMA (8 lanes)");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return (arm::neon, (arm::CHAINS * ROUNDS * 4 * 2) as f64, "NEON FMA (4 lanes)");
    }
    #[allow(unreachable_code)]
    (scalar, (SCALAR_CHAINS * ROUNDS * 2) as f64, "scalar mul_add")
}

/// Best FLOP/s of `threads` threads each running the kernel at once, over a few trials; the
/// threads start together (a barrier) and the slowest one's time counts.
fn rate(threads: usize) -> f64 {
    let (kernel, flops, _) = kernel();
    let mut best = 0.0f64;
    for _ in 0..3 {
        let barrier = std::sync::Barrier::new(threads);
        let slowest = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let started = Instant::now();
                        std::hint::black_box(kernel());
                        started.elapsed().as_secs_f64()
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().expect("a peak thread")).fold(0.0, f64::max)
        });
        best = best.max(flops * threads as f64 / slowest);
    }
    best
}

/// Measures the peak (a few seconds).
pub fn measure() -> Peak {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    rate(1); // wakes the cores up to their sustained clock
    Peak { all_cores: rate(threads), one_core: rate(1), threads, instructions: kernel().2 }
}

const SCALAR_CHAINS: usize = 8;

fn scalar() -> f32 {
    let mut acc = [1.0f32; SCALAR_CHAINS];
    let (a, b) = (std::hint::black_box(0.999_999f32), std::hint::black_box(1e-7f32));
    for _ in 0..ROUNDS {
        for x in &mut acc {
            *x = x.mul_add(a, b);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Enough independent chains to cover the FMA latency (4 cycles) on two FMA units, within
    /// the 32 (AVX-512) or 16 (AVX2) vector registers.
    pub const CHAINS_512: usize = 24;
    pub const CHAINS_256: usize = 12;

    pub fn avx512() -> f32 {
        // SAFETY: called only where `avx512f` was detected.
        unsafe { avx512_kernel() }
    }

    pub fn avx2() -> f32 {
        // SAFETY: called only where `fma` and `avx` were detected.
        unsafe { avx2_kernel() }
    }

    #[target_feature(enable = "avx512f")]
    fn avx512_kernel() -> f32 {
        let a = _mm512_set1_ps(std::hint::black_box(0.999_999));
        let b = _mm512_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS_512];
        for _ in 0..super::ROUNDS {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        acc.iter().map(|x| _mm512_reduce_add_ps(*x)).sum()
    }

    #[target_feature(enable = "avx,fma")]
    fn avx2_kernel() -> f32 {
        let a = _mm256_set1_ps(std::hint::black_box(0.999_999));
        let b = _mm256_set1_ps(std::hint::black_box(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS_256];
        for _ in 0..super::ROUNDS {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let sum = acc.iter().fold(_mm256_setzero_ps(), |s, x| _mm256_add_ps(s, *x));
        // SAFETY: `lanes` holds 8 floats, what one unaligned 256-bit store writes.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    pub const CHAINS: usize = 16;

    pub fn neon() -> f32 {
        // SAFETY: NEON is part of every aarch64 CPU.
        unsafe {
            let a = vdupq_n_f32(std::hint::black_box(0.999_999));
            let b = vdupq_n_f32(std::hint::black_box(1e-7));
            let mut acc = [vdupq_n_f32(1.0); CHAINS];
            for _ in 0..super::ROUNDS {
                for x in &mut acc {
                    *x = vfmaq_f32(b, *x, a);
                }
            }
            acc.iter().map(|x| vaddvq_f32(*x)).sum()
        }
    }
}

/// `cargo bench --bench peak`.
#[allow(dead_code)]
fn main() {
    let peak = measure();
    println!(
        "peak FP32: {:.1} GFLOP/s on {} threads ({:.1} GFLOP/s on one), {}",
        peak.all_cores / 1e9,
        peak.threads,
        peak.one_core / 1e9,
        peak.instructions
    );
}
