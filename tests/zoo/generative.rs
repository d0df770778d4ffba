//! The generative models: shapes, seeded determinism, one step lowering the loss on a real
//! batch, the KL and Bernoulli terms against their closed forms, the GAN's two steps touching
//! only their own network, and each recipe end to end through the binary on the built-in
//! extract (train, resume, eval, sample).

use std::path::Path;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde_json::Value;
use zoo_models::{
    AutoencoderConfig, AutoencoderKind, DiscriminatorConfig, GeneratorConfig, VaeConfig, VaeKind, bernoulli_nll,
    kl_divergence,
};
use zoo_train::generative::autoencoder::{AutoencoderRecipe, bce_per_pixel};
use zoo_train::generative::gan::{GanRecipe, mode_seeking_term};
use zoo_train::generative::vae::VaeRecipe;
use zoo_train::image_training::{ImageRecipe, ImageTrainer};
use zoo_train::loader::ImageBatch;
use zoo_train::recipes::Recipe;

use crate::common::{assert_clean_error, floats, real_batch, rng_lock, stderr, stdout, zoo};

fn lr(value: f64) -> burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate {
    value.into()
}

#[test]
fn shapes_of_every_generative_network() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, _) = real_batch(3, &device);
    for kind in [AutoencoderKind::Dense, AutoencoderKind::Conv] {
        let model = AutoencoderConfig::new().with_kind(kind).init(&device);
        assert_eq!(model.forward(images.clone()).dims(), [3, 1, 28, 28], "{kind:?}");
    }
    for (kind, latent) in [(VaeKind::Conv, 2), (VaeKind::Dense, 20)] {
        let model = VaeConfig::new().with_kind(kind).with_latent(latent).init(&device);
        let (mean, log_var) = model.encode(images.clone());
        assert_eq!((mean.dims(), log_var.dims()), ([3, latent], [3, latent]));
        assert_eq!(model.decode(mean).dims(), [3, 1, 28, 28], "{kind:?}");
    }
    let generator = GeneratorConfig::new().init(&device).valid();
    let fakes = generator.forward(Tensor::zeros([3, 100], &device));
    assert_eq!(fakes.dims(), [3, 1, 28, 28]);
    let range = floats(fakes.clone());
    assert!(range.iter().all(|v| (-1.0..=1.0).contains(v)), "tanh output");
    assert_eq!(DiscriminatorConfig::new().init(&device).forward(fakes).dims(), [3]);
}

#[test]
fn same_seed_same_weights() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, _) = real_batch(2, &device);
    let run = |seed: u64| {
        // Parameters are initialised lazily: use each network before seeding again.
        device.seed(seed);
        let ae =
            floats(AutoencoderConfig::new().with_kind(AutoencoderKind::Conv).init(&device).forward(images.clone()));
        device.seed(seed);
        let vae = floats(VaeConfig::new().init(&device).encode(images.clone()).0);
        device.seed(seed);
        let gan = floats(GeneratorConfig::new().init(&device).valid().forward(Tensor::ones([2, 100], &device)));
        (ae, vae, gan)
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3).0, run(4).0);
}

#[test]
fn kl_and_bernoulli_terms_match_their_closed_forms() {
    let device = Device::flex();
    // KL(N(m, s^2) || N(0, 1)) = 1/2 (s^2 + m^2 - 1 - ln s^2), summed over dimensions.
    let mean = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 0.0, 0.0], [2, 2]), &device);
    let log_var = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 4f32.ln(), 0.0, 0.0], [2, 2]), &device);
    let kl = floats(kl_divergence(mean, log_var));
    let expected = 0.5 * ((1.0 + 1.0 - 1.0 - 0.0) + (4.0 + 4.0 - 1.0 - 4f64.ln()));
    assert!((f64::from(kl[0]) - expected).abs() < 1e-5, "{kl:?}");
    assert!(kl[1].abs() < 1e-7, "the prior itself: {kl:?}");
    // -[t ln p + (1 - t) ln(1 - p)] with p = sigmoid(x), including large logits.
    let logits = [-3.0f32, 0.0, 2.5, 40.0, -40.0];
    let targets = [0.0f32, 1.0, 0.3, 1.0, 0.0];
    let got = floats(bernoulli_nll(
        Tensor::<2>::from_data(TensorData::new(logits.to_vec(), [1, 5]), &device),
        Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [1, 5]), &device),
    ))[0];
    let naive: f64 = logits
        .iter()
        .zip(targets)
        .map(|(&x, t)| {
            let p = 1.0 / (1.0 + (-f64::from(x)).exp());
            let (ln_p, ln_q) = if x > 20.0 {
                (0.0, -f64::from(x))
            } else if x < -20.0 {
                (f64::from(x), 0.0)
            } else {
                (p.ln(), (1.0 - p).ln())
            };
            -(f64::from(t) * ln_p + (1.0 - f64::from(t)) * ln_q)
        })
        .sum();
    assert!((f64::from(got) - naive).abs() < 1e-4, "{got} vs {naive}");
}

#[test]
fn one_adam_step_lowers_each_loss_on_a_real_batch() {
    let _rng = rng_lock();
    let device = Device::flex();
    for kind in [AutoencoderKind::Dense, AutoencoderKind::Conv] {
        let mut recipe = AutoencoderRecipe::default_recipe();
        recipe.model.kind = kind;
        let mut trainer = recipe.trainer(&device);
        let (images, targets) = real_batch(32, &trainer.train_device());
        let before =
            f64::from(bce_per_pixel(trainer.model.forward(images.clone()), images.clone()).into_scalar::<f32>());
        trainer.train_batch(ImageBatch::new(images.clone(), targets.clone()), Some(&lr(1e-3)));
        let after = f64::from(bce_per_pixel(trainer.model.forward(images.clone()), images).into_scalar::<f32>());
        assert!(after < before, "{kind:?}: {before} -> {after}");
    }
    for kind in [VaeKind::Conv, VaeKind::Dense] {
        let mut recipe = VaeRecipe::default_recipe();
        recipe.model.kind = kind;
        let mut trainer = recipe.trainer(&device);
        let train_device = trainer.train_device();
        let (images, targets) = real_batch(32, &train_device);
        // The same code noise before and after, so only the weights differ.
        let noise =
            Tensor::<2>::random([32, recipe.model.latent], burn::tensor::Distribution::Normal(0.0, 1.0), &train_device);
        let loss = |t: &zoo_train::generative::vae::VaeTrainer| {
            let out = t.model.forward(images.clone(), noise.clone());
            f64::from(
                (bernoulli_nll(out.logits, images.clone()) + kl_divergence(out.mean, out.log_var))
                    .mean()
                    .into_scalar::<f32>(),
            )
        };
        let before = loss(&trainer);
        for _ in 0..3 {
            trainer.train_batch(ImageBatch::new(images.clone(), targets.clone()), Some(&lr(1e-3)));
        }
        let after = loss(&trainer);
        assert!(after < before, "{kind:?}: {before} -> {after}");
    }
}

fn gan_trainer(device: &Device) -> zoo_train::generative::gan::GanTrainer {
    let mut recipe = GanRecipe::default_recipe();
    // Without dropout the discriminator's loss on a fixed batch is a function of its weights.
    recipe.discriminator.dropout = 0.0;
    recipe.trainer(device)
}

#[test]
fn gan_steps_touch_only_their_own_network_and_lower_their_losses() {
    let _rng = rng_lock();
    let device = Device::flex();
    let mut trainer = gan_trainer(&device);
    let train_device = trainer.train_device();
    let (images, _) = real_batch(16, &train_device);
    let real = images * 2.0 - 1.0;
    let noise = trainer.noise(16);

    // The discriminator's loss sends no gradient into the generator: the fakes are detached.
    let (loss, _, _) = trainer.discriminator_loss(real.clone(), trainer.generate(noise.clone()));
    let mut grads = loss.backward();
    assert!(GradientsParams::from_module(&mut grads, &trainer.generator).is_empty());
    assert!(!GradientsParams::from_module(&mut grads, &trainer.discriminator).is_empty());

    // Training-mode outputs: batch norm then uses the batch's statistics, so the output depends
    // on the parameters only (a forward pass also moves the running statistics, which are not
    // parameters).
    let probe = Tensor::<2>::random([4, 100], burn::tensor::Distribution::Normal(0.0, 1.0), &train_device);
    let generated = |t: &zoo_train::generative::gan::GanTrainer| floats(t.generator.forward(probe.clone()));
    let judged =
        |t: &zoo_train::generative::gan::GanTrainer| floats(t.discriminator.valid().forward(real.clone().inner()));
    let d_loss = |t: &zoo_train::generative::gan::GanTrainer| {
        f64::from(t.discriminator_loss(real.clone(), t.generate(noise.clone())).0.into_scalar::<f32>())
    };

    let (g0, d0, loss0) = (generated(&trainer), judged(&trainer), d_loss(&trainer));
    let drawn = |g: &zoo_models::Generator| floats(g.forward(probe.clone().inner()));
    let initial = drawn(&trainer.drawing());
    trainer.discriminator_step(real.clone(), trainer.generate(noise.clone()), Some(&lr(1e-3)));
    assert!(generated(&trainer) == g0, "a discriminator step leaves the generator alone");
    assert!(d_loss(&trainer) < loss0, "the discriminator step lowers its loss");

    let d1 = judged(&trainer);
    assert!(d1 != d0, "the discriminator learns");
    let g_loss_before = trainer.generator_step(trainer.generate(noise.clone()), Some(&lr(1e-3)));
    assert!(judged(&trainer) == d1, "a generator step changes no discriminator parameter");
    assert!(generated(&trainer) != g0, "the generator learns");
    // Its loss on the same noise, with the discriminator unchanged, went down.
    let g_loss_after = trainer.generator_step(trainer.generate(noise), Some(&lr(0.0)));
    assert!(g_loss_after < g_loss_before, "{g_loss_before} -> {g_loss_after}");

    // The average that draws the pictures trails the trained generator; its warm-up (decays
    // 1/10, then 2/11) keeps it near the trained one in the first steps, not at the random start.
    let (average, trained) = (drawn(&trainer.drawing()), drawn(&trainer.generator.valid()));
    let far = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(far(&average, &trained) > 0.0, "the average is not the trained generator");
    assert!(far(&average, &trained) < far(&initial, &trained) / 2.0, "the average stayed near the random start");
}

fn png_size(path: &Path) -> (u32, u32) {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8().dimensions()
}

fn train(model: &str, run: &Path, extra: &[&str]) {
    let mut args =
        vec!["train", model, "--device", "cpu", "--epochs", "1", "--limit", "512", "--run-dir", run.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = zoo(&args);
    assert!(out.status.success(), "{model}: {}", stderr(&out));
}

#[test]
fn autoencoder_and_vae_train_eval_and_sample_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let ae = tmp.path().join("ae");
    let config = tmp.path().join("conv.json");
    std::fs::write(&config, r#"{"model": {"kind": "Conv", "channels": 8}}"#).unwrap();
    train("autoencoder", &ae, &["--config", config.to_str().unwrap()]);
    for file in ["model.bpk", "metrics.csv", "curves.png", "samples/epoch-001.png", "checkpoint/progress-1.json"] {
        assert!(ae.join(file).is_file(), "{file}");
    }
    // 4 pairs of rows of 8 images, 56 px each with 2 px gaps.
    assert_eq!(png_size(&ae.join("samples/epoch-001.png")), (8 * 58 + 2, 8 * 58 + 2));
    let out = zoo(&["eval", "autoencoder", "--run", ae.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("nats per pixel"), "{}", stdout(&out));
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(ae.join("eval.json")).unwrap()).unwrap();
    let bce = eval["bce_per_pixel"].as_f64().unwrap();
    assert!(bce > 0.0 && bce < 0.7, "{bce}");
    let picture = tmp.path().join("recon.png");
    let out = zoo(&[
        "sample",
        "autoencoder",
        "--run",
        ae.to_str().unwrap(),
        "--n",
        "16",
        "--out",
        picture.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&picture), (8 * 58 + 2, 4 * 58 + 2));
    // 12 images: a full row of 8 and a padded row of 4, each above its reconstructions.
    let out = zoo(&[
        "sample",
        "autoencoder",
        "--run",
        ae.to_str().unwrap(),
        "--n",
        "12",
        "--out",
        picture.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&picture), (8 * 58 + 2, 4 * 58 + 2));

    let vae = tmp.path().join("vae");
    train("vae", &vae, &[]);
    let out = zoo(&["eval", "vae", "--run", vae.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("negative ELBO"), "{}", stdout(&out));
    let out = zoo(&["sample", "vae", "--run", vae.to_str().unwrap(), "--n", "64", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&vae.join("samples.png")), (8 * 58 + 2, 8 * 58 + 2));
    // A 2-d latent also gets the decoded plane (20 x 20 images of 28 px) and the scatter.
    assert_eq!(png_size(&vae.join("latent-map.png")), (20 * 30 + 2, 20 * 30 + 2));
    assert_eq!(png_size(&vae.join("latent-scatter.png")), (760, 700));
}

#[test]
fn gan_trains_resumes_is_judged_and_samples_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let gan = tmp.path().join("gan");
    let run = gan.to_str().unwrap();
    train("gan", &gan, &["--batch-size", "64"]);
    // The averaged generator draws (generator.bpk); the trained one is kept beside it.
    for file in ["generator.bpk", "generator-trained.bpk", "discriminator.bpk", "checkpoint/generator_average-1.bpk"] {
        assert!(gan.join(file).is_file(), "{file}");
    }
    assert_ne!(
        std::fs::read(gan.join("generator.bpk")).unwrap(),
        std::fs::read(gan.join("generator-trained.bpk")).unwrap()
    );
    let metrics = std::fs::read_to_string(gan.join("metrics.csv")).unwrap();
    for metric in ["D Loss", "G Loss", "D(x)", "D(G(z))"] {
        assert!(metrics.contains(&format!("1,train,{metric},")), "{metric}: {metrics}");
    }
    let out = zoo(&["train", "gan", "--resume", run, "--epochs", "2", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(gan.join("samples/epoch-002.png").is_file());

    let out = zoo(&["eval", "gan", "--run", run, "--device", "cpu"]);
    assert_clean_error(&out, 2, "needs --judge CNN_RUN");
    let judge = tmp.path().join("judge");
    train("cnn", &judge, &[]);
    let out =
        zoo(&["eval", "gan", "--run", run, "--judge", judge.to_str().unwrap(), "--samples", "200", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(gan.join("eval.json")).unwrap()).unwrap();
    let (distance, floor) = (eval["frechet_distance"].as_f64().unwrap(), eval["frechet_floor"].as_f64().unwrap());
    assert!(
        distance.is_finite() && floor > 0.0 && distance > floor,
        "an untrained generator is far from real digits: {distance} vs {floor}"
    );
    let classes: f64 = eval["class_percent"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((classes - 100.0).abs() < 1e-6);
    assert_eq!(eval["generator"], "moving average");
    // The trained generator, judged on request, draws other images.
    let out = zoo(&[
        "eval",
        "gan",
        "--run",
        run,
        "--judge",
        judge.to_str().unwrap(),
        "--samples",
        "200",
        "--trained",
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trained: Value = serde_json::from_str(&std::fs::read_to_string(gan.join("eval.json")).unwrap()).unwrap();
    assert_eq!(trained["generator"], "trained");
    assert_ne!(trained["frechet_distance"], eval["frechet_distance"]);

    let out = zoo(&["sample", "gan", "--run", run, "--n", "16", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&gan.join("samples.png")), (8 * 58 + 2, 2 * 58 + 2));
    assert_clean_error(&zoo(&["sample", "vae", "--run", run]), 2, "is a `gan` run");
    assert_clean_error(
        &zoo(&["sample", "vae", "--run", run, "--trained"]),
        2,
        "--trained does not apply to `zoo sample vae`",
    );
    assert_clean_error(
        &zoo(&["eval", "mlp", "--run", run, "--trained"]),
        2,
        "--trained does not apply to `zoo eval mlp`",
    );
    // The same seed draws the same picture (the averaged generator's standing statistics too).
    let again = tmp.path().join("again.png");
    let out = zoo(&["sample", "gan", "--run", run, "--n", "16", "--out", again.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(gan.join("samples.png")).unwrap());
}

/// A fresh generator's running statistics (0 and 1) do not describe its activations; after
/// the standing-statistics passes its inference-mode images come close to the training-mode
/// images of the same noise (batch statistics of 256).
#[test]
fn standing_statistics_match_the_generators_own_activations() {
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(21);
    let generator = GeneratorConfig::new().init(&device);
    let train_device = device.clone().autodiff();
    let noise = Tensor::<2>::random([256, 100], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    // Batch statistics on a copy (a training-mode pass moves its running statistics).
    let copy = zoo_models::GeneratorConfig::new().init(&device).load_record(generator.clone().into_record());
    let batch_stats = floats(copy.fork(&train_device).train().forward(noise.clone().to_device(&train_device)).inner());
    let gap = |images: Vec<f32>| {
        images.iter().zip(&batch_stats).map(|(a, b)| (a - b).abs()).sum::<f32>() / images.len() as f32
    };
    let before = gap(floats(generator.valid().forward(noise.clone())));
    let standing = zoo_train::generative::gan::standing_statistics(generator, &device);
    let after = gap(floats(standing.forward(noise)));
    assert!(after < before / 5.0, "mean gap to batch statistics: {before} before, {after} after");
}

#[test]
fn the_gans_moving_average_needs_a_decay_below_one() {
    let recipe = GanRecipe::default_recipe();
    assert_eq!(recipe.decay(), Some(0.999));
    assert!(recipe.clone().with_average(None).validate().is_ok());
    assert!(recipe.clone().with_average(Some(0.0)).validate().is_ok());
    let error = recipe.clone().with_average(Some(1.0)).validate().unwrap_err();
    assert!(error.contains("average 1") && error.contains("below 1"), "{error}");
    // The warm-up: early updates keep little of the (random) start, later ones the full decay.
    assert!((GanRecipe::decay_at(0.999, 0) - 0.1).abs() < 1e-12);
    assert_eq!(GanRecipe::decay_at(0.999, 100_000), 0.999);
}

/// A class-conditional GAN (issue 20's digits on request): the generator's pictures depend on
/// the digit asked for and on the noise, the projection discriminator's logits on the label;
/// an unconditional one ignores labels.
#[test]
fn a_conditional_gan_reads_the_label_in_both_networks() {
    let _rng = rng_lock();
    let device = Device::flex();
    let generator = GeneratorConfig::new().with_classes(10).init(&device).valid();
    assert_eq!(generator.classes(), 10);
    let noise = Tensor::<2>::random([2, 100], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let labels = |digits: [i64; 2]| Some(Tensor::<1, Int>::from_data(TensorData::new(digits.to_vec(), [2]), &device));
    let draw = |digits: [i64; 2]| floats(generator.forward_with(noise.clone(), labels(digits)));
    let (threes, fives) = (draw([3, 3]), draw([5, 5]));
    assert_ne!(threes, fives, "the label changes the picture");
    assert_ne!(threes[..784], threes[784..], "the noise changes the picture");
    assert_eq!(floats(generator.forward(noise.clone())), draw([0, 1]), "without labels: the classes in turn");

    let discriminator = DiscriminatorConfig::new().with_classes(10).with_dropout(0.0).init(&device);
    let (images, _) = real_batch(2, &device);
    let judged = |digits: [i64; 2]| floats(discriminator.forward_with(images.clone(), labels(digits)));
    assert_ne!(judged([3, 3]), judged([5, 5]), "the label changes the logit");

    let plain = GeneratorConfig::new().init(&device).valid();
    assert_eq!(plain.classes(), 0);
    assert_eq!(
        floats(plain.forward_with(noise.clone(), labels([3, 3]))),
        floats(plain.forward(noise)),
        "an unconditional generator ignores labels"
    );
}

/// The mode-seeking term (MSGAN): `1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5)`, the
/// first half of a batch against the second; it is what a conditional recipe with `diversity`
/// adds to the generator's loss, reported as its own metric.
#[test]
fn the_mode_seeking_term_grows_as_two_noises_give_one_picture() {
    let device = Device::flex();
    // Noise halves 2 apart on average: |0 - 1| and |0 - 3|.
    let noise = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0, 3.0], [2, 2]), &device);
    let term = |first: f32, second: f32| {
        let fake = Tensor::cat(
            vec![Tensor::<4>::full([1, 1, 28, 28], first, &device), Tensor::<4>::full([1, 1, 28, 28], second, &device)],
            0,
        );
        f64::from(mode_seeking_term(fake, noise.clone()).into_scalar::<f32>())
    };
    assert!((term(0.5, 0.5) - 1e5).abs() < 1.0, "one picture for two noises: 1 / 1e-5");
    assert!((term(0.0, 0.5) - 1.0 / (0.25 + 1e-5)).abs() < 1e-3, "pictures 0.5 apart for noise 2 apart");
    assert!(term(0.0, 1.0) < term(0.0, 0.5), "further apart, smaller");

    let negative = GanRecipe::default_recipe().with_diversity(Some(-1.0)).validate().unwrap_err();
    assert!(negative.contains("diversity -1"), "{negative}");

    let _rng = rng_lock();
    let mut recipe = GanRecipe::default_recipe().with_diversity(Some(1.0));
    (recipe.generator.classes, recipe.discriminator.classes) = (10, 10);
    let mut trainer = recipe.trainer(&Device::flex());
    assert!(trainer.metrics().iter().any(|m| m.name == "Mode Seeking"));
    let (images, targets) = real_batch(16, &trainer.train_device());
    let metrics = trainer.train_batch(ImageBatch::new(images, targets), Some(&lr(1e-4)));
    let term = metrics.iter().find(|(name, _)| *name == "Mode Seeking").expect("the term is reported").1;
    assert!(term.is_finite() && term > 0.0, "{term}");
}

/// The tutorial's order (`simultaneous`): both steps from the parameters before the batch, each
/// equal to that step taken alone from them; the default order moves G against the updated D.
/// `recipes/gan-tutorial.json` asks for it, with Keras' batch-norm settings.
#[test]
fn simultaneous_updates_take_both_steps_from_the_same_parameters() {
    let _rng = rng_lock();
    let device = Device::flex();
    let trainer = |simultaneous: bool| {
        let mut recipe = GanRecipe::default_recipe().with_simultaneous(Some(simultaneous)).with_average(None);
        recipe.discriminator.dropout = 0.0;
        recipe.trainer(&device)
    };
    let train_device = trainer(true).train_device();
    let (images, targets) = real_batch(16, &train_device);
    let real = images.clone() * 2.0 - 1.0;
    let probe = Tensor::<2>::random([4, 100], burn::tensor::Distribution::Normal(0.0, 1.0), &train_device);
    type Trainer = zoo_train::generative::gan::GanTrainer;
    // Training-mode outputs: functions of the parameters only.
    let generated = |t: &Trainer| floats(t.generator.forward(probe.clone()));
    let judged = |t: &Trainer| floats(t.discriminator.valid().forward(real.clone().inner()));
    let after_batch = |simultaneous: bool| {
        let mut t = trainer(simultaneous);
        device.seed(7);
        t.train_batch(ImageBatch::new(images.clone(), targets.clone()), Some(&lr(1e-3)));
        (generated(&t), judged(&t))
    };
    // The batch's fakes: its first draw after the seed.
    let fakes = |t: &Trainer| {
        device.seed(7);
        t.generate(t.noise(16))
    };
    let mut d_alone = trainer(true);
    let fake = fakes(&d_alone);
    d_alone.discriminator_step(real.clone(), fake, Some(&lr(1e-3)));
    let mut g_alone = trainer(true);
    let fake = fakes(&g_alone);
    g_alone.generator_step(fake, Some(&lr(1e-3)));

    let (g, d) = after_batch(true);
    assert!(d == judged(&d_alone), "simultaneous: D's step is the one from the batch's starting parameters");
    assert!(g == generated(&g_alone), "simultaneous: G's step reads D before D's step");
    let (g, d) = after_batch(false);
    assert!(d == judged(&d_alone), "alternating: D steps first");
    assert!(g != generated(&g_alone), "alternating: G's step reads the updated D");

    let path = Path::new(&crate::common::manifest_dir()).join("recipes/gan-tutorial.json");
    let tutorial: GanRecipe = zoo_train::recipes::load_recipe(&path).expect("the tutorial recipe loads");
    assert_eq!(tutorial.simultaneous, Some(true));
    assert_eq!((tutorial.generator.norm_epsilon, tutorial.generator.norm_momentum), (1e-3, 0.01));
    let mut bad = GanRecipe::default_recipe();
    bad.generator.norm_momentum = 0.0;
    let error = bad.validate().unwrap_err();
    assert!(error.contains("generator.norm_momentum 0"), "{error}");
}

#[test]
fn a_conditional_gan_trains_samples_digits_on_request_and_is_judged_per_digit() {
    let tmp = tempfile::tempdir().unwrap();
    let gan = tmp.path().join("cgan");
    let recipe = Path::new(&crate::common::manifest_dir()).join("recipes/gan-conditional.json");
    train("gan", &gan, &["--config", recipe.to_str().unwrap(), "--batch-size", "64", "--set", "average=null"]);
    let run = gan.to_str().unwrap();
    // Without --digit: a row per digit (64 pictures: 7 a row).
    let out = zoo(&["sample", "gan", "--run", run, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&gan.join("samples.png")), (7 * 58 + 2, 10 * 58 + 2));
    let seven = tmp.path().join("sevens.png");
    let out = zoo(&["sample", "gan", "--run", run, "--digit", "7", "--n", "16", "--out", seven.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&seven), (8 * 58 + 2, 2 * 58 + 2));
    assert_clean_error(
        &zoo(&["sample", "gan", "--run", run, "--digit", "12"]),
        2,
        "--digit 12: give a digit from 0 to 9",
    );

    let judge = tmp.path().join("judge");
    train("cnn", &judge, &[]);
    let out_eval =
        zoo(&["eval", "gan", "--run", run, "--judge", judge.to_str().unwrap(), "--samples", "200", "--device", "cpu"]);
    assert!(out_eval.status.success(), "{}", stderr(&out_eval));
    assert!(stdout(&out_eval).contains("asked for a digit, judged that digit: 0: "), "{}", stdout(&out_eval));
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(gan.join("eval.json")).unwrap()).unwrap();
    let asked = eval["asked_percent"].as_array().unwrap();
    assert_eq!(asked.len(), 10);
    assert!(asked.iter().all(|p| (0.0..=100.0).contains(&p.as_f64().unwrap())));

    // The same pictures written to a file (`zoo sample gan --out FILE.idx`, seeded as the
    // judge is) get the same figures from `--images` as the judge gave in-process.
    let pictures = tmp.path().join("pictures.idx");
    let out =
        zoo(&["sample", "gan", "--run", run, "--n", "200", "--out", pictures.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&pictures).unwrap().len(), 16 + 200 * 784, "an IDX file of 200 pictures");
    let from_file = zoo(&[
        "eval",
        "gan",
        "--images",
        pictures.to_str().unwrap(),
        "--judge",
        judge.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let figures = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.starts_with("Fréchet distance") || l.starts_with("classified with") || l.starts_with("classes:")
            })
            .map(str::to_string)
            .collect()
    };
    let in_process = figures(&stdout(&out_eval));
    assert_eq!(in_process.len(), 3, "{}", stdout(&out_eval));
    assert_eq!(figures(&stdout(&from_file)), in_process, "the file judged as the generator's own pictures");
    // A file of other pictures is judged differently, so agreeing means something.
    let other = tmp.path().join("other.idx");
    let out = zoo(&["sample", "gan", "--run", run, "--n", "200", "--seed", "9", "--out", other.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = zoo(&["eval", "gan", "--images", other.to_str().unwrap(), "--judge", judge.to_str().unwrap()]);
    assert_ne!(figures(&stdout(&out))[0], in_process[0]);
    assert_clean_error(
        &zoo(&["eval", "gan", "--images", "no-such.idx", "--judge", judge.to_str().unwrap()]),
        2,
        "no-such.idx",
    );

    // An unconditional run cannot be asked for a digit.
    let plain = tmp.path().join("gan");
    train("gan", &plain, &["--batch-size", "64", "--set", "average=null"]);
    assert_clean_error(
        &zoo(&["sample", "gan", "--run", plain.to_str().unwrap(), "--digit", "3", "--device", "cpu"]),
        2,
        "not class-conditional",
    );
}
