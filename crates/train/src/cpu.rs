//! Process-wide settings that make CPU training faster: how the CPU treats subnormal floats,
//! and how the allocator treats the large buffers a training step frees.
//!
//! ## Subnormal floats
//!
//! As a transformer trains, its attention sharpens and some softmax weights (and gradients
//! through them) fall below f32's normal range (about 1e-38); x86 and ARM CPUs compute on such
//! subnormal numbers far slower than on normal ones. Flushing them to zero changes no result a
//! network can tell apart. Measured on this project's GPT after 32 minutes of training
//! (resumed, 45 s each): 5,349 characters a second with subnormals kept, 5,604 flushed (+5 %).
//! It does not explain all of the slowdown seen over a long run (6,500 at the start, 4,750 at
//! the end of the same run; a fresh process resumed from the end runs at 5,349).

/// Turns on flush-to-zero and denormals-are-zero for the calling thread; threads it starts
/// afterwards (Burn's worker pool) inherit the setting. Call it first thing in `main`.
/// `ZOO_SUBNORMALS=keep` leaves the CPU's default, for comparison. Returns whether the mode is on.
pub fn flush_subnormals() -> bool {
    if std::env::var("ZOO_SUBNORMALS").is_ok_and(|v| v == "keep") {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(deprecated)]
        // SAFETY: sets two bits of this thread's MXCSR (FTZ 0x8000, DAZ 0x0040); no memory is touched.
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
        true
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: sets the FZ bit (24) of this thread's FPCR; no memory is touched.
        unsafe {
            let mut fpcr: u64;
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr);
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr | (1 << 24));
        }
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Keeps the memory a training step frees inside the process, for the next step to reuse.
///
/// Every step of a CPU backend allocates and frees the same large buffers (activations,
/// im2col matrices, gradients: megabytes each). glibc serves blocks above its mmap threshold
/// with fresh `mmap`s and unmaps them on free, so each step page-faults its buffers in again
/// (the kernel zeroes every page) and, with two threads, shoots down TLB entries on each
/// unmap. Profiled on `cnn` at batch 256 (flex): 15 % of the samples in the kernel's page-fault
/// and page-clearing paths. Serving every block from the heap and never trimming it removes
/// that: `cargo bench --bench throughput` measured `cnn` 256 1,403 -> 2,057 samples/s and
/// `vae` 128 614 -> 1,037 on this 2-core machine, with peak RSS lower, not higher (137 -> 124
/// MB for `cnn`), since no block is held twice while a new one is mapped.
///
/// glibc only (Linux); elsewhere a no-op. `ZOO_MALLOC=default` leaves glibc's defaults, for
/// comparison. Returns whether the setting was applied. Call it first thing in `main`.
pub fn keep_freed_memory() -> bool {
    if std::env::var("ZOO_MALLOC").is_ok_and(|v| v == "default") {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // is started. M_MMAP_MAX 0: no block is served by mmap; M_TRIM_THRESHOLD: the heap's
        // free top is never returned to the system.
        unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Both settings of this module; what every zoo process and benchmark calls first.
pub fn tune() {
    flush_subnormals();
    keep_freed_memory();
}
