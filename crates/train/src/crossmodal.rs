//! `crossmodal` (item 29): does this caption describe this picture? Recipe, trainer (each
//! training digit is paired with a caption in English or Chinese, half of them naming another
//! digit; binary cross-entropy), `zoo eval` (match accuracy on seen and held-out phrasings per
//! language, zero-shot classification, retrieval) and `zoo predict` (a picture against one or
//! more captions).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid};
use serde::{Deserialize, Serialize};
use zoo_data::captions::{self, CaptionTokenizer, Language, Pair, TEMPLATES};
use zoo_data::rng::splitmix_step;
use zoo_data::{ImageSet, SplitMix64};
use zoo_models::{CrossModal, CrossModalConfig};

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes, read_module};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ZooError};
use crate::fit::{FitConfig, LrSchedule};
use crate::generative::{image_batch, test_set, to_vec};
use crate::image::trained_weights;
use crate::image_training::{ImageRecipe, ImageTrainer, ImageTraining};
use crate::loader::ImageBatch;
use crate::recipes::Recipe;
use crate::run::{RunDir, RunInfo, timestamp_iso};

/// The run folder's copy of the tokeniser's vocabulary.
pub const TOKENIZER: &str = "tokenizer.txt";

/// How captions are made and read.
#[derive(Config, Debug)]
pub struct CaptionConfig {
    /// Tokens the text tower reads: a caption's last `max_tokens`, padded before.
    #[config(default = 12)]
    pub max_tokens: usize,
    /// Seeds the test pairs (which caption goes with which test picture).
    #[config(default = 0)]
    pub test_seed: u64,
    /// Word noise of training captions: each word but the digit's name becomes unknown with
    /// this probability, and unknown words are slipped in at half of it (0: off). Phrasings
    /// never trained on are matched at 88 % without it.
    #[config(default = 0.2)]
    pub word_noise: f64,
}

/// Recipe of `crossmodal`: what `config.json` holds.
#[derive(Config, Debug)]
pub struct CrossModalRecipe {
    pub model: CrossModalConfig,
    pub captions: CaptionConfig,
    /// Adam's moments and epsilon (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub fit: FitConfig,
}

impl Recipe for CrossModalRecipe {
    const NAME: &'static str = "crossmodal";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(8).with_batch_size(64).with_schedule(LrSchedule::Cosine);
        let model = CrossModalConfig::new().with_vocab(CaptionTokenizer::for_training().vocab_size());
        Self::new(model, CaptionConfig::new(), AdamConfig::new(), fit)
    }
}

crate::fit_recipe!(CrossModalRecipe);

impl ImageRecipe for CrossModalRecipe {
    type Trainer = CrossModalTrainer;

    fn trainer(&self, device: &Device) -> CrossModalTrainer {
        device.seed(self.fit.seed);
        let train_device = device.clone().autodiff();
        let tokenizer = CaptionTokenizer::for_training();
        CrossModalTrainer {
            model: self.model.init(&train_device),
            optimizer: self.fit.build_optimizer(&self.optimizer, 0.0),
            held: HeldGradients::default(),
            recipe: self.clone(),
            names: tokenizer.name_ids(),
            tokenizer,
            pairs: SplitMix64::new(splitmix_step(self.fit.seed ^ 0xCA97)),
            train_device,
            device: device.clone(),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.captions.max_tokens == 0 {
            return Err("captions.max_tokens: must be at least 1".to_string());
        }
        if !(0.0..1.0).contains(&self.captions.word_noise) {
            return Err(format!("captions.word_noise: {} must be at least 0 and below 1", self.captions.word_noise));
        }
        let needed = CaptionTokenizer::for_training().vocab_size();
        if self.model.vocab < needed {
            return Err(format!("model.vocab: {} is fewer than the captions' {needed} tokens", self.model.vocab));
        }
        Ok(())
    }

    fn describe_data(&self, _train: &ImageSet) -> String {
        let seen = TEMPLATES.iter().filter(|t| !t.held_out).count();
        format!("each paired with a caption from {seen} English and Chinese templates, half of them matching")
    }
}

/// Captions' token ids as a batch `[captions, max_tokens]`: each caption's last `max_tokens`,
/// padding before them.
fn token_tensor(captions: &[Vec<u32>], max_tokens: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = captions.iter().flat_map(|c| CaptionTokenizer::pad(c, max_tokens)).map(i64::from).collect();
    Tensor::from_data(TensorData::new(ids, [captions.len(), max_tokens]), device)
}

/// Word noise of training captions: its rate, the ids it keeps (the digits' names) and the
/// generator it draws from.
type WordNoise<'a> = (f64, &'a [u32], &'a mut SplitMix64);

/// A batch of pairs as tensors: tokens `[batch, max_tokens]` and labels `[batch]` (1: the
/// caption matches); `noise` adds word noise to the captions (training).
fn pair_tensors(
    pairs: &[Pair],
    tokenizer: &CaptionTokenizer,
    max_tokens: usize,
    mut noise: Option<WordNoise>,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<1>) {
    let captions: Vec<Vec<u32>> = pairs
        .iter()
        .map(|pair| {
            let caption = tokenizer.encode(&pair.caption);
            match noise.as_mut() {
                Some((rate, keep, rng)) => captions::add_word_noise(&caption, keep, *rate, rng),
                None => caption,
            }
        })
        .collect();
    let labels: Vec<f32> = pairs.iter().map(|p| if p.matches { 1.0 } else { 0.0 }).collect();
    (token_tensor(&captions, max_tokens, device), Tensor::from_data(TensorData::new(labels, [pairs.len()]), device))
}

/// Binary cross-entropy of logits, mean over the batch: `[batch]`, `[batch]` -> `[1]`.
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let positive = log_sigmoid(logits.clone()) * labels.clone();
    let negative = log_sigmoid(logits.neg()) * (labels.neg() + 1.0);
    (positive + negative).mean().neg()
}

/// The digits of a batch, read back from the device (a failed read is no empty batch).
fn digits(targets: &Tensor<1, Int>) -> Vec<u8> {
    let digits = crate::read::ints(targets.clone()).expect("the batch's digits read back from the device");
    digits.into_iter().map(|d| d as u8).collect()
}

pub struct CrossModalTrainer {
    pub model: CrossModal,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    recipe: CrossModalRecipe,
    tokenizer: CaptionTokenizer,
    /// The ids of the digits' names, which word noise keeps.
    names: Vec<u32>,
    /// Draws the training pairs; its state is part of the checkpoint, so a resumed run pairs
    /// as the uninterrupted one would.
    pairs: SplitMix64,
    train_device: Device,
    device: Device,
}

impl CrossModalTrainer {
    /// Loss and accuracy (in percent) of a batch of pairs (tokens `[batch, max_tokens]`).
    fn step(model: &CrossModal, images: Tensor<4>, tokens: Tensor<2, Int>, labels: Tensor<1>) -> (Tensor<1>, f64) {
        let size = labels.dims()[0];
        let logits = model.forward(images, tokens);
        let loss = bce_with_logits(logits.clone(), labels.clone());
        let right = logits.greater_elem(0.0).float().equal(labels).int().sum().into_scalar::<i64>();
        (loss, 100.0 * right as f64 / size.max(1) as f64)
    }
}

impl ImageTrainer for CrossModalTrainer {
    const METRICS: &'static [MetricSpec] = &[MetricSpec::lower("Loss"), MetricSpec::higher("Accuracy")];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk", "pairs.json"];

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let pairs: Vec<Pair> = digits(&batch.targets)
            .into_iter()
            .enumerate()
            .map(|(i, digit)| captions::training_pair(i, digit, &mut self.pairs))
            .collect();
        let captions = &self.recipe.captions;
        let noise = Some((captions.word_noise, &self.names[..], &mut self.pairs));
        let (tokens, labels) = pair_tensors(&pairs, &self.tokenizer, captions.max_tokens, noise, &self.train_device);
        let (loss, accuracy) = Self::step(&self.model, batch.images, tokens, labels);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        vec![("Loss", value), ("Accuracy", accuracy)]
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        // The same pairs every epoch: drawn from the batch's digits (the validation batches
        // come in a fixed order).
        let digits = digits(&batch.targets);
        let key = digits.iter().fold(0x5EEDu64, |h, &d| splitmix_step(h ^ u64::from(d)));
        let mut rng = SplitMix64::new(key);
        let pairs: Vec<Pair> =
            digits.into_iter().enumerate().map(|(i, d)| captions::training_pair(i, d, &mut rng)).collect();
        let (tokens, labels) =
            pair_tensors(&pairs, &self.tokenizer, self.recipe.captions.max_tokens, None, &self.device);
        let (loss, accuracy) = Self::step(&self.model.valid(), batch.images, tokens, labels);
        vec![("Loss", f64::from(loss.into_scalar::<f32>())), ("Accuracy", accuracy)]
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        let pairs = serde_json::to_vec(&self.pairs.state).map_err(|e| ZooError::runtime(e.to_string()))?;
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?, pairs])
    }

    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()> {
        let [model, optim, pairs]: [Vec<u8>; 3] =
            parts.try_into().map_err(|_| ZooError::runtime("a crossmodal checkpoint has three parts".to_string()))?;
        self.pairs.state = serde_json::from_slice(&pairs)
            .map_err(|e| ZooError::runtime(format!("pairs.json of the checkpoint: {e}")))?;
        let fresh = self.recipe.model.init(&self.train_device);
        let optimizer = std::mem::replace(&mut self.optimizer, AdamConfig::new().init());
        (self.model, self.optimizer) = load_model_and_optimizer(vec![model, optim], fresh, optimizer)?;
        Ok(())
    }

    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?), (TOKENIZER, self.tokenizer.to_text().into_bytes())])
    }
}

/// A run's recipe, tokeniser and trained network on `device`.
pub fn load(
    run_dir: &Path,
    device: &Device,
) -> Result<(RunDir, RunInfo, CrossModalRecipe, CaptionTokenizer, CrossModal)> {
    let (run, info) = RunDir::open(run_dir, CrossModalRecipe::NAME)?;
    let recipe: CrossModalRecipe = run.read_recipe()?;
    // An unfinished run has no copy yet; its tokeniser is the one every run builds.
    let tokenizer = if run.file(TOKENIZER).is_file() {
        CaptionTokenizer::from_text(&run.read_text(TOKENIZER)?)
    } else {
        CaptionTokenizer::for_training()
    };
    let path = trained_weights::<ImageTraining<CrossModalTrainer>>(&run)?;
    let model = read_module(recipe.model.init(device), &path)?;
    Ok((run, info, recipe, tokenizer, model))
}

/// Every caption of every template: `captions[t * 10 + d]` is template `t`'s caption of digit `d`.
fn all_captions() -> Vec<String> {
    TEMPLATES.iter().flat_map(|t| (0..10).map(|d| t.caption(d))).collect()
}

/// The logit of every test image with every caption of [`all_captions`]: `[images][captions]`.
fn score_matrix(
    model: &CrossModal,
    set: &ImageSet,
    tokenizer: &CaptionTokenizer,
    max_tokens: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let texts = all_captions();
    let encoded: Vec<Vec<u32>> = texts.iter().map(|c| tokenizer.encode(c)).collect();
    let tokens = token_tensor(&encoded, max_tokens, device);
    let text_projection = model.text_projection(tokens); // [captions, hidden]
    let mut scores = Vec::with_capacity(set.len());
    for start in (0..set.len()).step_by(250) {
        let chunk = set.subset(start..(start + 250).min(set.len()));
        let images = model.image_projection(image_batch(&chunk, chunk.len(), device)); // [250, hidden]
        let logits = to_vec(model.pair_logits(images, text_projection.clone()))?; // [250 * captions]
        scores.extend(logits.chunks(texts.len()).map(<[f32]>::to_vec));
    }
    Ok(scores)
}

/// Match accuracy of one kind of pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MatchCell {
    pub language: String,
    /// `seen` (phrasings trained on) or `held out`.
    pub phrasing: String,
    pub pairs: usize,
    /// In percent.
    pub accuracy: f64,
}

/// Zero-shot classification and retrieval with one template's ten captions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TemplateFigures {
    pub template: String,
    pub language: String,
    pub held_out: bool,
    /// Share of test images whose best-scoring caption of the ten names their digit, percent.
    pub zero_shot: f64,
    /// For each of the ten captions, the 1,000 first test images ranked by score: share of
    /// captions whose top image shows the named digit (R@1), whose top 10 include one (R@10),
    /// and the share of the top 10 that do (P@10); percent.
    pub recall_at_1: f64,
    pub recall_at_10: f64,
    pub precision_at_10: f64,
}

/// What `zoo eval crossmodal` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrossModalEval {
    pub model: String,
    pub data: String,
    pub images: usize,
    pub pairs: usize,
    /// Match accuracy over every test pair, percent.
    pub accuracy: f64,
    pub cells: Vec<MatchCell>,
    pub templates: Vec<TemplateFigures>,
    pub evaluated: String,
}

/// Ranks the first `n` images for one caption column: (R@1, R@10, P@10) as 0/1 and a share.
fn retrieval(scores: &[Vec<f32>], labels: &[u8], column: usize, digit: u8, n: usize) -> (f64, f64, f64) {
    let mut order: Vec<usize> = (0..n.min(scores.len())).collect();
    order.sort_by(|&a, &b| scores[b][column].total_cmp(&scores[a][column]));
    let relevant = |i: &usize| labels[*i] == digit;
    let top10 = order.iter().take(10).filter(|i| relevant(i)).count();
    (f64::from(u8::from(order.first().is_some_and(relevant))), f64::from(u8::from(top10 > 0)), top10 as f64 / 10.0)
}

pub fn eval(run_dir: &Path, data: Option<&Path>, device: &Device) -> Result<CrossModalEval> {
    let (run, info, recipe, tokenizer, model) = load(run_dir, device)?;
    let (set, describe) = test_set(&info, data)?;
    let scores = score_matrix(&model, &set, &tokenizer, recipe.captions.max_tokens, device)?;
    let column: HashMap<String, usize> = all_captions().into_iter().enumerate().map(|(i, c)| (c, i)).collect();
    let pairs = captions::test_pairs(&set.labels, recipe.captions.test_seed);
    let mut cells: Vec<(Language, bool, usize, usize)> =
        Language::ALL.iter().flat_map(|&l| [(l, false, 0, 0), (l, true, 0, 0)]).collect();
    let mut right_total = 0;
    for pair in &pairs {
        let said_match = scores[pair.image][column[&pair.caption]] > 0.0;
        let right = usize::from(said_match == pair.matches);
        right_total += right;
        if let Some(cell) = cells.iter_mut().find(|c| c.0 == pair.language && c.1 == pair.held_out) {
            cell.2 += 1;
            cell.3 += right;
        }
    }
    let retrieval_images = 1000.min(set.len());
    let templates = TEMPLATES
        .iter()
        .enumerate()
        .map(|(t, template)| {
            let columns = t * 10..t * 10 + 10;
            let right = scores
                .iter()
                .zip(&set.labels)
                .filter(|&(row, &label)| {
                    let best = columns.clone().max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0);
                    best - t * 10 == usize::from(label)
                })
                .count();
            let (mut r1, mut r10, mut p10) = (0.0, 0.0, 0.0);
            for digit in 0..10u8 {
                let (a, b, c) = retrieval(&scores, &set.labels, t * 10 + usize::from(digit), digit, retrieval_images);
                (r1, r10, p10) = (r1 + a, r10 + b, p10 + c);
            }
            TemplateFigures {
                template: template.text.to_string(),
                language: template.language.to_string(),
                held_out: template.held_out,
                zero_shot: 100.0 * right as f64 / set.len().max(1) as f64,
                recall_at_1: 10.0 * r1,
                recall_at_10: 10.0 * r10,
                precision_at_10: 10.0 * p10,
            }
        })
        .collect();
    let report = CrossModalEval {
        model: CrossModalRecipe::NAME.into(),
        data: describe,
        images: set.len(),
        pairs: pairs.len(),
        accuracy: 100.0 * right_total as f64 / pairs.len().max(1) as f64,
        cells: cells
            .into_iter()
            .map(|(language, held_out, n, right)| MatchCell {
                language: language.to_string(),
                phrasing: if held_out { "held out" } else { "seen" }.to_string(),
                pairs: n,
                accuracy: 100.0 * right as f64 / n.max(1) as f64,
            })
            .collect(),
        templates,
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// The match probability of a picture with each caption, likeliest first.
pub fn predict(run_dir: &Path, picture: &Path, texts: &[String], device: &Device) -> Result<Vec<(String, f32)>> {
    if texts.is_empty() {
        return Err(ZooError::usage(
            "zoo predict crossmodal needs a caption: --text \"the digit 7\" (repeat --text to rank several)"
                .to_string(),
        ));
    }
    let (_, _, recipe, tokenizer, model) = load(run_dir, device)?;
    let side = zoo_models::IMAGE_SIDE;
    let pixels = zoo_data::image_prep::load_as_mnist(picture)?;
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, side, side]), device);
    let max_tokens = recipe.captions.max_tokens;
    let encoded: Vec<Vec<u32>> = texts.iter().map(|t| tokenizer.encode(t)).collect();
    let tokens = token_tensor(&encoded, max_tokens, device);
    let logits = model.pair_logits(model.image_projection(images), model.text_projection(tokens)); // [1, texts]
    let probabilities = to_vec(sigmoid(logits))?;
    let mut ranked: Vec<(String, f32)> = texts.iter().cloned().zip(probabilities).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ranked)
}

/// Paths in `inputs` beyond the first picture: a usage error (crossmodal takes one picture).
pub fn one_picture(inputs: &[PathBuf]) -> Result<&Path> {
    match inputs {
        [one] => Ok(one),
        _ => Err(ZooError::usage(format!(
            "zoo predict crossmodal takes one picture and its captions as --text; got {} pictures",
            inputs.len()
        ))),
    }
}
