//! Trained models held in memory to answer requests one after another (`zoo serve`): each is
//! loaded once from its run folder and answers what its kind of model can. A method a model
//! cannot answer says so as a usage error, which the server turns into a 400.
//!
//! Nothing here is `Sync`: a served model lives on the one thread that loaded it (the server
//! gives each its own worker), so Burn's modules never cross threads.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use zoo_data::env::{CartPole, CartPoleState, Environment};
use zoo_data::image_prep::PictureCanvas;
use zoo_data::{CharTokenizer, SplitMix64, WordTokenizer};
use zoo_models::{IMAGE_SIDE, MultiTask, QNet, TextClassifier, Vae};

use crate::classifier::{Classifier, ClassifierRecipe, ImageNet};
use crate::error::{Result, ZooError};
use crate::generative::gan::{self, GanRecipe};
use crate::generative::to_vec;
use crate::image::{ClassLabels, load_classifier};
use crate::language::{CharModel, LanguageRecipe};
use crate::multitask::MultiTaskRecipe;
use crate::read;
use crate::recipes::Recipe;
use crate::run::RunDir;

/// What a served model can be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// A picture of a digit → its classes with probabilities.
    Classify,
    /// A point of the latent space → the picture it decodes to.
    Decode,
    /// New pictures from noise.
    Sample,
    /// A text → its classes and the weight each word got.
    ClassifyText,
    /// A prompt → its continuation, character by character.
    Generate,
    /// One greedy CartPole episode, every state of it.
    Episode,
    /// A picture → the digit in it and its box.
    Locate,
}

/// One greedy episode of the agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Episode {
    /// `[x, x_dot, theta, theta_dot]` from the start to the end, one more than `actions`.
    pub states: Vec<CartPoleState>,
    /// 0 pushes left, 1 right.
    pub actions: Vec<u8>,
    pub total_return: f64,
    /// Why it ended: the pole fell or the cart left the track, or the 500-step limit.
    pub ended: String,
}

/// The digit found in a picture and where.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Found {
    pub label: String,
    pub probability: f32,
    /// `[x_min, y_min, x_max, y_max]` in the picture's pixels.
    pub bounds: [f32; 4],
}

/// The most pictures one `sample` or `decode` makes.
pub const MAX_PICTURES: usize = 256;
/// The most characters one `generate` draws.
pub const MAX_CHARACTERS: usize = 5000;

fn cannot(what: &str, model: &str) -> ZooError {
    ZooError::usage(format!("a {model} run cannot {what}"))
}

/// A trained model in memory. Every method but [`capabilities`](Self::capabilities) and
/// [`model`](Self::model) has a default that refuses.
pub trait Served {
    /// The recipe name (`cnn`, `vae`, ...).
    fn model(&self) -> &'static str;
    fn capabilities(&self) -> &'static [Capability];

    /// Classes of `n` pictures prepared as MNIST is, `[n * 28 * 28]` in `[0, 1]`: for each,
    /// every class with its probability, most likely first.
    fn classify(&self, _pixels: &[f32], _n: usize) -> Result<Vec<Vec<(String, f32)>>> {
        Err(cannot("classify pictures", self.model()))
    }

    /// Size of the latent space (0: none).
    fn latent(&self) -> usize {
        0
    }

    /// Whether [`sample`](Self::sample) can be asked for a digit.
    fn conditional(&self) -> bool {
        false
    }

    /// Pictures `[n * 28 * 28]` in `[0, 1]` decoded from `n` latent points `[n * latent]`.
    fn decode(&self, _codes: &[f32], _n: usize) -> Result<Vec<f32>> {
        Err(cannot("decode latent points", self.model()))
    }

    /// `n` new pictures `[n * 28 * 28]` in `[0, 1]` from noise drawn from `seed`; `digit` asks a
    /// class-conditional model for one digit.
    fn sample(&self, _n: usize, _seed: u64, _digit: Option<u8>) -> Result<Vec<f32>> {
        Err(cannot("draw new pictures", self.model()))
    }

    fn classify_text(&self, _text: &str) -> Result<crate::textclass::TextAnswer> {
        Err(cannot("classify texts", self.model()))
    }

    /// Up to `len` characters continuing `prompt`, each handed to `emit` as it is drawn;
    /// `emit` returning false stops.
    fn generate(
        &self,
        _prompt: &str,
        _len: usize,
        _temperature: f64,
        _seed: u64,
        _emit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<()> {
        Err(cannot("continue a prompt", self.model()))
    }

    fn episode(&self, _seed: u64) -> Result<Episode> {
        Err(cannot("play CartPole", self.model()))
    }

    /// The side of the square canvas [`locate`](Self::locate) reads (0: it reads none).
    fn canvas_side(&self) -> usize {
        0
    }

    fn locate(&self, _canvas: &PictureCanvas) -> Result<Found> {
        Err(cannot("find a digit's box", self.model()))
    }
}

/// `n` values of the standard normal drawn from `rng` (Box-Muller): the server's noise comes
/// from the request's seed alone, not from the device's generator that other models share.
pub fn normal_noise(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = rng.next_f64().max(f64::MIN_POSITIVE);
            let v = rng.next_f64();
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

fn check_pictures(n: usize) -> Result<()> {
    if n == 0 || n > MAX_PICTURES {
        return Err(ZooError::usage(format!("n = {n}: ask for 1 to {MAX_PICTURES} pictures")));
    }
    Ok(())
}

fn images(pixels: &[f32], n: usize, side: usize, device: &Device) -> Result<Tensor<4>> {
    if n == 0 || pixels.len() != n * side * side {
        return Err(ZooError::usage(format!(
            "{} values for {n} pictures of {side} x {side}: give {} values in [0, 1]",
            pixels.len(),
            n * side * side
        )));
    }
    Ok(Tensor::from_data(TensorData::new(pixels.to_vec(), [n, 1, side, side]), device))
}

/// An image classifier (`mlp`, `cnn`, `rnn`, `resnet`, `transfer`).
pub struct ServedClassifier<R: ClassifierRecipe> {
    model: Classifier<R::Net>,
    labels: ClassLabels,
    device: Device,
}

impl<R: ClassifierRecipe> Served for ServedClassifier<R> {
    fn model(&self) -> &'static str {
        R::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Classify]
    }

    fn classify(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<(String, f32)>>> {
        let logits = self.model.net.logits(images(pixels, n, IMAGE_SIDE, &self.device)?);
        let [_, classes] = logits.dims();
        let probabilities = read::floats(softmax(logits, 1))?;
        Ok(probabilities.chunks(classes).map(|p| self.labels.ranked(p)).collect())
    }
}

pub fn classifier<R: ClassifierRecipe + 'static>(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (run, _) = RunDir::open(run_dir, R::NAME)?;
    let (recipe, model) = load_classifier::<R>(&run, device)?;
    let labels = ClassLabels::of(&run, &recipe)?;
    Ok(Box::new(ServedClassifier::<R> { model: model.valid(), labels, device: device.clone() }))
}

/// The variational autoencoder: decodes latent points and draws from the prior.
pub struct ServedVae {
    model: Vae,
    latent: usize,
    device: Device,
}

impl Served for ServedVae {
    fn model(&self) -> &'static str {
        crate::generative::vae::VaeRecipe::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Decode, Capability::Sample]
    }

    fn latent(&self) -> usize {
        self.latent
    }

    fn decode(&self, codes: &[f32], n: usize) -> Result<Vec<f32>> {
        check_pictures(n)?;
        if codes.len() != n * self.latent || codes.iter().any(|c| !c.is_finite()) {
            return Err(ZooError::usage(format!(
                "{} values for {n} points: give {} finite numbers ({n} points of {} coordinates)",
                codes.len(),
                n * self.latent,
                self.latent
            )));
        }
        let codes = Tensor::<2>::from_data(TensorData::new(codes.to_vec(), [n, self.latent]), &self.device);
        to_vec(self.model.generate(codes))
    }

    fn sample(&self, n: usize, seed: u64, digit: Option<u8>) -> Result<Vec<f32>> {
        if digit.is_some() {
            return Err(ZooError::usage("a vae run draws any digit; it cannot be asked for one".to_string()));
        }
        check_pictures(n)?;
        let codes = normal_noise(&mut SplitMix64::new(seed), n * self.latent);
        self.decode(&codes, n)
    }
}

pub fn vae(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (_, _, recipe, model) = crate::generative::vae::load(run_dir, device)?;
    Ok(Box::new(ServedVae { model: model.valid(), latent: recipe.model.latent, device: device.clone() }))
}

/// The GAN's generator (the moving average where the recipe keeps one).
pub struct ServedGan {
    generator: zoo_models::Generator,
    device: Device,
}

impl Served for ServedGan {
    fn model(&self) -> &'static str {
        GanRecipe::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Sample]
    }

    fn conditional(&self) -> bool {
        self.generator.classes() > 0
    }

    fn sample(&self, n: usize, seed: u64, digit: Option<u8>) -> Result<Vec<f32>> {
        check_pictures(n)?;
        let labels = digit.map(|d| gan::asked_digit(&self.generator, d, n, &self.device)).transpose()?;
        let size = self.generator.noise_size();
        let noise = normal_noise(&mut SplitMix64::new(seed), n * size);
        let noise = Tensor::<2>::from_data(TensorData::new(noise, [n, size]), &self.device);
        to_vec(gan::to_pixels(self.generator.forward_with(noise, labels)))
    }
}

pub fn gan(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    // The standing statistics of an averaged generator draw noise from the device: seeded so
    // that a server started twice draws the same pictures for the same request.
    device.seed(0);
    let (_, _, generator, _) = gan::load_generator(run_dir, false, device)?;
    Ok(Box::new(ServedGan { generator, device: device.clone() }))
}

/// The attention text classifier.
pub struct ServedText {
    model: TextClassifier,
    labels: Vec<String>,
    vocab: WordTokenizer,
    device: Device,
}

impl Served for ServedText {
    fn model(&self) -> &'static str {
        crate::textclass::AttentionRecipe::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::ClassifyText]
    }

    fn classify_text(&self, text: &str) -> Result<crate::textclass::TextAnswer> {
        crate::textclass::classify_text(&self.model, &self.labels, &self.vocab, text, &self.device)
    }
}

pub fn text_classifier(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (_, recipe, vocab, model) = crate::textclass::load(run_dir, device)?;
    Ok(Box::new(ServedText { model: model.valid(), labels: recipe.classify.labels, vocab, device: device.clone() }))
}

/// A character language model (`char-lstm`, `gpt`).
pub struct ServedLanguage<R: LanguageRecipe> {
    model: R::Model,
    tokenizer: CharTokenizer,
    device: Device,
}

impl<R: LanguageRecipe> Served for ServedLanguage<R> {
    fn model(&self) -> &'static str {
        R::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Generate]
    }

    fn generate(
        &self,
        prompt: &str,
        len: usize,
        temperature: f64,
        seed: u64,
        emit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<()> {
        if len == 0 || len > MAX_CHARACTERS {
            return Err(ZooError::usage(format!("len = {len}: ask for 1 to {MAX_CHARACTERS} characters")));
        }
        if !(0.0..=10.0).contains(&temperature) {
            return Err(ZooError::usage(format!(
                "temperature {temperature} must be between 0 (most likely character) and 10"
            )));
        }
        let mut rng = SplitMix64::new(seed);
        let prompt = self.tokenizer.encode(prompt);
        self.model.generate_each(&prompt, len, temperature, &mut rng, &self.device, &mut |id| {
            emit(&self.tokenizer.decode(&[id]))
        })
    }
}

pub fn language<R: LanguageRecipe + 'static>(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (_, _, tokenizer, model) = crate::language::load::<R>(run_dir, device)?;
    Ok(Box::new(ServedLanguage::<R> { model: model.valid(), tokenizer, device: device.clone() }))
}

/// The DQN agent on CartPole.
pub struct ServedDqn {
    net: QNet,
    device: Device,
}

impl Served for ServedDqn {
    fn model(&self) -> &'static str {
        crate::rl::dqn::DqnRecipe::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Episode]
    }

    fn episode(&self, seed: u64) -> Result<Episode> {
        let mut env = CartPole::new(seed);
        let mut episode =
            Episode { states: vec![env.state()], actions: Vec::new(), total_return: 0.0, ended: String::new() };
        loop {
            let action = crate::rl::dqn::act(&self.net, &env.observation(), &self.device)?;
            let step = env.step(action);
            episode.actions.push(action as u8);
            episode.states.push(step.next_state);
            episode.total_return += step.reward;
            if step.done || step.truncated {
                episode.ended =
                    if step.done { "the pole fell or the cart left the track" } else { "the 500-step limit" }
                        .to_string();
                return Ok(episode);
            }
        }
    }
}

pub fn dqn(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (_, _, net) = crate::rl::dqn::load_policy(run_dir, device)?;
    Ok(Box::new(ServedDqn { net: net.valid(), device: device.clone() }))
}

/// The multi-task network: the digit in a picture and its box.
pub struct ServedMultiTask {
    model: MultiTask,
    recipe: MultiTaskRecipe,
    device: Device,
}

impl Served for ServedMultiTask {
    fn model(&self) -> &'static str {
        MultiTaskRecipe::NAME
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Locate]
    }

    fn canvas_side(&self) -> usize {
        self.recipe.canvas.side
    }

    fn locate(&self, canvas: &PictureCanvas) -> Result<Found> {
        let (label, probability, bounds) = crate::multitask::locate(&self.model, &self.recipe, canvas, &self.device)?;
        Ok(Found { label, probability, bounds })
    }
}

pub fn multitask(run_dir: &Path, device: &Device) -> Result<Box<dyn Served>> {
    let (_, _, recipe, model) = crate::multitask::load(run_dir, device)?;
    Ok(Box::new(ServedMultiTask { model: model.valid(), recipe, device: device.clone() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_standard_normal_and_seeded() {
        let draws = normal_noise(&mut SplitMix64::new(7), 20_000);
        let mean = draws.iter().map(|&v| f64::from(v)).sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
        assert_eq!(draws[..5], normal_noise(&mut SplitMix64::new(7), 5)[..]);
        assert_ne!(draws[..5], normal_noise(&mut SplitMix64::new(8), 5)[..]);
    }
}
