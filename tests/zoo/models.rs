//! Per model: output shapes, determinism for a seed, and one optimiser step lowering the loss
//! on a fixed real batch.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use zoo_train::classifier::ClassifierRecipe;
use zoo_train::classifier::{Classifier, ImageNet};
use zoo_train::recipes::{CnnRecipe, MlpRecipe, RnnRecipe};

use crate::common::{real_batch, rng_lock};

fn net<R: ClassifierRecipe>(classes: usize, seed: u64, device: &Device) -> R::Net {
    let mut recipe = R::default_recipe();
    recipe.set_num_classes(classes);
    device.seed(seed);
    recipe.init(device)
}

fn shapes<R: ClassifierRecipe>() {
    let _rng = rng_lock();
    let device = Device::flex();
    for classes in [10, 3] {
        let model = net::<R>(classes, 1, &device);
        let (images, _) = real_batch(5, &device);
        assert_eq!(model.logits(images).dims(), [5, classes]);
    }
}

fn deterministic<R: ClassifierRecipe>() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, _) = real_batch(4, &device);
    let a = net::<R>(10, 7, &device).logits(images.clone()).into_data();
    let b = net::<R>(10, 7, &device).logits(images.clone()).into_data();
    let c = net::<R>(10, 8, &device).logits(images).into_data();
    assert_eq!(a, b, "same seed, same weights, same output");
    assert_ne!(a, c, "another seed gives other weights");
}

fn one_step_lowers_loss<R: ClassifierRecipe>() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let (images, targets) = real_batch(64, &device);
    let model = Classifier::new(net::<R>(10, 3, &device));
    let loss_of = |model: &Classifier<R::Net>| {
        let logits = model.net.logits(images.clone());
        CrossEntropyLossConfig::new().init(&device).forward(logits, targets.clone())
    };
    let before = loss_of(&model);
    let grads = GradientsParams::from_grads(before.backward(), &model);
    let before: f32 = before.into_scalar();
    let mut optim = AdamConfig::new().init();
    let model = optim.step(1e-3, model, grads);
    let after: f32 = loss_of(&model).into_scalar();
    assert!(after < before, "loss {before} -> {after} after one Adam step");
}

#[test]
fn mlp_shapes() {
    shapes::<MlpRecipe>();
}

#[test]
fn mlp_is_deterministic() {
    deterministic::<MlpRecipe>();
}

#[test]
fn mlp_step_lowers_loss() {
    one_step_lowers_loss::<MlpRecipe>();
}

#[test]
fn cnn_shapes() {
    shapes::<CnnRecipe>();
}

#[test]
fn cnn_is_deterministic() {
    deterministic::<CnnRecipe>();
}

#[test]
fn cnn_step_lowers_loss() {
    one_step_lowers_loss::<CnnRecipe>();
}

#[test]
fn rnn_shapes() {
    shapes::<RnnRecipe>();
}

#[test]
fn rnn_is_deterministic() {
    deterministic::<RnnRecipe>();
}

#[test]
fn rnn_step_lowers_loss() {
    one_step_lowers_loss::<RnnRecipe>();
}
