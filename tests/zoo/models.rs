//! Per model: output shapes, determinism for a seed, and one optimiser step lowering the loss
//! on a fixed real batch.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use zoo_train::classifier::ClassifierRecipe;
use zoo_train::classifier::{Classifier, ImageNet};
use zoo_train::recipes::{CnnRecipe, MlpRecipe, ResNetRecipe, RnnRecipe};
use zoo_train::transfer::TransferRecipe;

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

#[test]
fn resnet_shapes() {
    shapes::<ResNetRecipe>();
}

#[test]
fn resnet_is_deterministic() {
    deterministic::<ResNetRecipe>();
}

#[test]
fn resnet_step_lowers_loss() {
    one_step_lowers_loss::<ResNetRecipe>();
}

/// Sets every weight and bias of a module to zero.
struct Zeroed;

impl burn::module::ModuleMapper for Zeroed {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        param.map(|tensor| tensor.zeros_like())
    }
}

#[test]
fn a_residual_block_with_silent_convolutions_passes_its_input_through() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, _) = real_batch(3, &device);
    let input = images.repeat_dim(1, 4); // [3, 4, 28, 28], pixels >= 0
    let block = zoo_models::ResidualBlock::new(4, 4, 1, false, true, &device).map(&mut Zeroed);
    let through = block.forward(input.clone());
    through.into_data().assert_approx_eq::<f32>(&input.into_data(), burn::tensor::Tolerance::absolute(1e-6));
    // Without the skip connection the same block outputs nothing.
    let plain = zoo_models::ResidualBlock::new(4, 4, 1, false, false, &device).map(&mut Zeroed);
    let silent: f32 = plain.forward(real_batch(3, &device).0.repeat_dim(1, 4)).abs().sum().into_scalar();
    assert_eq!(silent, 0.0);
}

#[test]
fn resnet_stages_halve_the_side_and_double_the_width() {
    let _rng = rng_lock();
    let device = Device::flex();
    // 1 -> 8 filters at 28, 16 at 14, 32 at 7: the logits still come out per class.
    let net =
        zoo_models::ResNetConfig::new().with_width(8).with_blocks(vec![1, 1, 1]).with_batch_norm(true).init(&device);
    let (images, _) = real_batch(2, &device);
    assert_eq!(net.forward(images).dims(), [2, 10]);
    use burn::module::Module;
    // stem 1*8*9+8, blocks (8->8: 2 convs), (8->16 stride 2 + 1x1 projection), (16->32 + projection),
    // closing 32->32, dense 32->10; a batch norm holds scale, shift, running mean and variance.
    let conv = |from: usize, to: usize, k: usize| from * to * k * k + to;
    let bn = |c: usize| 4 * c;
    let expected = conv(1, 8, 3)
        + bn(8)
        + 2 * (conv(8, 8, 3) + bn(8))
        + conv(8, 16, 3)
        + bn(16)
        + conv(16, 16, 3)
        + bn(16)
        + conv(8, 16, 1)
        + bn(16)
        + conv(16, 32, 3)
        + bn(32)
        + conv(32, 32, 3)
        + bn(32)
        + conv(16, 32, 1)
        + bn(32)
        + conv(32, 32, 3)
        + bn(32)
        + 32 * 10
        + 10;
    assert_eq!(net.num_params(), expected);
}

#[test]
fn transfer_shapes() {
    shapes::<TransferRecipe>();
}

#[test]
fn transfer_is_deterministic() {
    deterministic::<TransferRecipe>();
}

#[test]
fn transfer_step_lowers_loss() {
    one_step_lowers_loss::<TransferRecipe>();
}
