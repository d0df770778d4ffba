//! Data-parallel training over several devices (`zoo train --devices a,b`), the way burn-train's
//! `ExecutionStrategy::MultiDevice` does it with the optimiser on the main device
//! (`MultiDeviceOptim::OptimMainDevice`): each batch is cut into one shard per device, a worker
//! thread per extra device forks the model onto its device (`Module::fork`) and computes its
//! shard's gradients, the gradients are moved to the main device (`GradientsParams::to_device`)
//! and summed there (`GradientsAccumulator`), and the one optimiser steps the main model.
//!
//! One difference from burn-train, on purpose: each shard's loss is weighted by its share of the
//! batch before the backward pass, so the summed gradients are the gradient of the whole
//! batch's mean loss (burn-train sums shard means, a gradient as many times larger as there are
//! devices; Adam hardly notices, SGD would). A run on two devices thus follows the same
//! trajectory as a run on one device with the same batch size, up to the devices' rounding.
//!
//! Burn 0.22.1 has no all-reduce outside CUDA (its DDP needs NCCL), so this strategy, which
//! only moves tensors between devices, is the one that runs on every backend, and across
//! backends (`--devices cpu,ndarray`: the dispatch backend copies tensors between them).

use burn::module::{Module, ModuleVisitor};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use crate::loader::ImageBatch;

/// Whether `module` keeps running statistics (batch normalisation). Burn shares a module's
/// running statistics between its copies (`RunningState` is one value behind an `Arc`), so a
/// copy forked onto another device would move the main model's statistics there: such models
/// train on one device.
pub fn has_running_statistics<M: Module>(module: &M) -> bool {
    struct Finder(bool);
    impl ModuleVisitor for Finder {
        fn enter_module(&mut self, _name: &str, container_type: &str) {
            self.0 |= container_type.ends_with("BatchNorm");
        }
    }
    let mut finder = Finder(false);
    module.visit(&mut finder);
    finder.0
}

/// The shard sizes of a batch of `total` over `parts` devices: as even as can be, the first
/// ones one larger; shards of 0 are dropped (a last batch smaller than the device count).
pub fn shard_sizes(total: usize, parts: usize) -> Vec<usize> {
    (0..parts).map(|i| total / parts + usize::from(i < total % parts)).filter(|&n| n > 0).collect()
}

/// Rows `start..start + len` of a batch (its first dimension), moved to `device`.
fn shard(batch: &ImageBatch, start: usize, len: usize, device: &Device) -> ImageBatch {
    ImageBatch {
        images: batch.images.clone().narrow(0, start, len).to_device(device),
        targets: batch.targets.clone().narrow(0, start, len).to_device(device),
        boxes: batch.boxes.clone().map(|b| b.narrow(0, start, len).to_device(device)),
    }
}

/// One optimiser step's gradients of `model` (on the main device) over `batch`, computed in
/// shards on the main device and on each of `replicas` (autodiff devices).
///
/// `step(model, shard, share, main)` runs one shard: the model (the main one or its fork on
/// the shard's device), the shard, the shard's share of the batch (multiply the loss by it
/// before the backward pass), and whether it is the main device's shard (where a term of the
/// weights alone, such as a penalty, is added once). It returns the shard's gradients and
/// whatever the caller wants back (its outputs, for the metrics).
///
/// Returns the gradients on the main device and each shard's output with its size, main
/// first.
pub fn gradients<M, O, F>(
    model: &M,
    batch: ImageBatch,
    replicas: &[Device],
    step: F,
) -> (GradientsParams, Vec<(O, usize)>)
where
    M: Module + 'static,
    O: Send,
    F: Fn(&M, ImageBatch, f64, bool) -> (GradientsParams, O) + Sync,
{
    let total = batch.targets.dims()[0];
    let sizes = shard_sizes(total, replicas.len() + 1);
    let main_device = batch.images.device();
    let share = |size: usize| size as f64 / total as f64;
    let mut starts = sizes.iter().scan(0, |next, &size| {
        let start = *next;
        *next += size;
        Some(start)
    });
    let main_start = starts.next().unwrap_or(0);
    let step = &step;

    let (main, others) = std::thread::scope(|scope| {
        // One worker per extra device, as burn-train's `MultiDevicesTrainStep`: the model's
        // copy is forked (weights moved, a fresh autodiff graph) onto the worker's device.
        let workers: Vec<_> = sizes[1..]
            .iter()
            .zip(starts)
            .zip(replicas)
            .map(|((&size, start), device)| {
                let copy = model.clone();
                let part = shard(&batch, start, size, device);
                let main_device = main_device.clone();
                scope.spawn(move || {
                    let forked = copy.fork(device);
                    let (grads, output) = step(&forked, part, share(size), false);
                    (grads.to_device(&main_device, &forked), output, size)
                })
            })
            .collect();
        let part = shard(&batch, main_start, sizes[0], &main_device);
        let main = step(model, part, share(sizes[0]), true);
        let others: Vec<_> = workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        (main, others)
    });

    let mut sum = GradientsAccumulator::<M>::new();
    let (main_grads, main_output) = main;
    sum.accumulate(model, main_grads);
    let mut outputs = vec![(main_output, sizes[0])];
    for (grads, output, size) in others {
        sum.accumulate(model, grads);
        outputs.push((output, size));
    }
    (sum.grads(), outputs)
}

/// The batch's metrics from its shards': each metric's mean weighted by shard size.
pub fn combine_metrics(shards: Vec<(Vec<(&'static str, f64)>, usize)>) -> Vec<(&'static str, f64)> {
    let total: usize = shards.iter().map(|(_, size)| size).sum();
    let mut combined: Vec<(&'static str, f64)> = Vec::new();
    for (values, size) in shards {
        for (name, value) in values {
            let weighted = value * size as f64 / total.max(1) as f64;
            match combined.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum += weighted,
                None => combined.push((name, weighted)),
            }
        }
    }
    combined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_evenly() {
        assert_eq!(shard_sizes(10, 2), vec![5, 5]);
        assert_eq!(shard_sizes(11, 2), vec![6, 5]);
        assert_eq!(shard_sizes(7, 3), vec![3, 2, 2]);
        // A last batch of one sample on two devices runs on the main device alone.
        assert_eq!(shard_sizes(1, 2), vec![1]);
    }

    #[test]
    fn metrics_are_weighted_by_shard_size() {
        let combined = combine_metrics(vec![
            (vec![("Loss", 1.0), ("Accuracy", 100.0)], 3),
            (vec![("Loss", 2.0), ("Accuracy", 0.0)], 1),
        ]);
        assert_eq!(combined, vec![("Loss", 1.25), ("Accuracy", 75.0)]);
    }
}
