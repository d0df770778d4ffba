//! Character language models (`lstm` and `attention` with `task` Language): training on random
//! windows of a text, validation in nats per character on the held-out end of the text, and
//! sampling. Written once for both networks through [`CharModel`] and [`LanguageRecipe`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::corpus::{load_text, split_text};
use zoo_data::{CharTokenizer, SplitMix64};
use zoo_models::{CharLstm, CharLstmConfig, CharTransformer, CharTransformerConfig, LstmStates};

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes, read_module, write_module};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt, ZooError};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::recipes::{FitRecipe, Recipe, recipe_or_default};
use crate::run::{RunDir, timestamp_iso};
use crate::trainer::{self, EarlyStopping, FitReport, Reporter, Training, epochs_done};

/// Per-character perplexity: `exp` of the cross-entropy in nats, how many characters the model
/// hesitates between on average.
pub const PERPLEXITY: &str = "Perplexity";
/// Validation only: held-out next characters that were the model's top guess (percent).
pub const ACCURACY: &str = "Accuracy";
/// Validation only: held-out next characters among the model's five best guesses (percent).
pub const TOP5_ACCURACY: &str = "Top-5 Accuracy";

/// What a character language model learns from; `config.json` under `language`.
#[derive(Config, Debug)]
pub struct LanguageSettings {
    /// `moby-dick` (shipped with zoo) or the path of a UTF-8 text file.
    #[config(default = "String::from(\"moby-dick\")")]
    pub text: String,
    /// Characters per training window: the LSTM's backpropagation length, the GPT's context.
    #[config(default = 128)]
    pub context: usize,
    /// Optimiser steps per epoch, each on `fit.batch_size` windows drawn at random from the
    /// training part.
    #[config(default = 500)]
    pub steps_per_epoch: usize,
    /// Held-out characters scored after each epoch (0: all); `zoo eval` always scores all.
    #[config(default = 0)]
    pub valid_chars: usize,
    /// The text each epoch's sample starts from (`samples/epoch-NNN.txt`).
    #[config(default = "String::from(\"Call me\")")]
    pub prompt: String,
}

/// A network that reads characters and predicts the next one at every position.
pub trait CharModel: Module + Sized {
    /// What carries over from one window of text to the next (`()` for a model that only sees
    /// its window).
    type State: Clone;
    /// Recurrent models carry their state across consecutive windows, in training (truncated
    /// backpropagation through time over contiguous streams) and when scoring held-out text.
    const CARRIES_STATE: bool;

    /// # Shapes
    /// - ids: `[batch, len]`; output: logits `[batch, len, vocab]`
    fn logits(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.logits_from(ids, None).0
    }

    /// Logits starting from `state` (None: fresh), and the state after the last position,
    /// cut from the graph that made it.
    fn logits_from(&self, ids: Tensor<2, Int>, state: Option<Self::State>) -> (Tensor<3>, Option<Self::State>);

    /// Up to `len` characters continuing `prompt` (ids), each drawn from the softmax of the
    /// logits divided by `temperature` and handed to `emit` as soon as it is drawn; `emit`
    /// returning false stops early (a reader that went away).
    fn generate_each(
        &self,
        prompt: &[u32],
        len: usize,
        temperature: f64,
        rng: &mut SplitMix64,
        device: &Device,
        emit: &mut dyn FnMut(u32) -> bool,
    ) -> Result<()>;

    /// `len` characters continuing `prompt`, as [`generate_each`](Self::generate_each) draws them.
    fn generate(
        &self,
        prompt: &[u32],
        len: usize,
        temperature: f64,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(len);
        self.generate_each(prompt, len, temperature, rng, device, &mut |id| {
            out.push(id);
            true
        })?;
        Ok(out)
    }
}

/// One character drawn from `softmax(logits / temperature)`; temperature 0 takes the most
/// likely one.
pub fn draw(logits: &[f32], temperature: f64, rng: &mut SplitMix64) -> u32 {
    let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    if temperature <= 0.0 {
        return best as u32;
    }
    let top = f64::from(logits[best]);
    let weights: Vec<f64> = logits.iter().map(|&l| ((f64::from(l) - top) / temperature).exp()).collect();
    let mut target = rng.next_f64() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        target -= w;
        if target <= 0.0 {
            return i as u32;
        }
    }
    best as u32
}

fn ids_tensor(ids: &[u32], batch: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(data, [batch, ids.len() / batch]), device)
}

fn last_logits(logits: Tensor<3>) -> Result<Vec<f32>> {
    let [_, len, vocab] = logits.dims();
    crate::read::floats(logits.slice([0..1, len - 1..len, 0..vocab]))
}

impl CharModel for CharLstm {
    type State = LstmStates;
    const CARRIES_STATE: bool = true;

    fn logits_from(&self, ids: Tensor<2, Int>, state: Option<LstmStates>) -> (Tensor<3>, Option<LstmStates>) {
        let (logits, state) = self.forward_with_state(ids, state);
        (logits, Some(state.into_iter().map(|(h, c)| (h.detach(), c.detach())).collect()))
    }

    /// Reads the prompt once, then carries the recurrent state from character to character.
    fn generate_each(
        &self,
        prompt: &[u32],
        len: usize,
        temperature: f64,
        rng: &mut SplitMix64,
        device: &Device,
        emit: &mut dyn FnMut(u32) -> bool,
    ) -> Result<()> {
        let start = if prompt.is_empty() { vec![CharTokenizer::UNKNOWN] } else { prompt.to_vec() };
        let (logits, mut state): (Tensor<3>, LstmStates) = self.forward_with_state(ids_tensor(&start, 1, device), None);
        let mut next = draw(&last_logits(logits)?, temperature, rng);
        for drawn in 0..len {
            if !emit(next) || drawn + 1 == len {
                break;
            }
            let (logits, s) = self.forward_with_state(ids_tensor(&[next], 1, device), Some(state));
            state = s;
            next = draw(&last_logits(logits)?, temperature, rng);
        }
        Ok(())
    }
}

impl CharModel for CharTransformer {
    type State = ();
    const CARRIES_STATE: bool = false;

    fn logits_from(&self, ids: Tensor<2, Int>, _: Option<()>) -> (Tensor<3>, Option<()>) {
        (self.forward(ids), None)
    }

    /// Each character sees the last `context` characters before it.
    fn generate_each(
        &self,
        prompt: &[u32],
        len: usize,
        temperature: f64,
        rng: &mut SplitMix64,
        device: &Device,
        emit: &mut dyn FnMut(u32) -> bool,
    ) -> Result<()> {
        let mut history = if prompt.is_empty() { vec![CharTokenizer::UNKNOWN] } else { prompt.to_vec() };
        let context = self.context();
        for _ in 0..len {
            let window = &history[history.len().saturating_sub(context)..];
            let next = draw(&last_logits(self.forward(ids_tensor(window, 1, device)))?, temperature, rng);
            history.push(next);
            if !emit(next) {
                break;
            }
        }
        Ok(())
    }
}

/// The recipe of a character language model: its network, optimiser, text and fit settings.
pub trait LanguageRecipe: FitRecipe {
    type Model: CharModel;
    fn language(&self) -> &LanguageSettings;
    fn language_mut(&mut self) -> &mut LanguageSettings;
    fn optimizer(&self) -> &AdamConfig;
    /// Records the tokeniser's vocabulary size in the model's config.
    fn set_vocab(&mut self, vocab: usize);
    /// The network (weights from the device's seed).
    fn init_language_model(&self, device: &Device) -> Self::Model;
}

/// Recipe of `char-lstm`: a character language model of LSTMs (item 9's network on text),
/// what `config.json` holds. The defaults are the measured Moby Dick recipe.
#[derive(Config, Debug)]
pub struct CharLstmRecipe {
    /// The network; `vocab` is set from the text when training starts.
    pub char_model: CharLstmConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub language: LanguageSettings,
    pub fit: FitConfig,
}

impl Recipe for CharLstmRecipe {
    const NAME: &'static str = "char-lstm";

    fn default_recipe() -> Self {
        // 1.3991 nats per character on the held-out tenth of Moby Dick in 26 min 39 s (README).
        let model = CharLstmConfig::new(0)
            .with_hidden(256)
            .with_layers(2)
            .with_embedding(256)
            .with_dropout(0.0)
            .with_forget_bias(0.0);
        let optimizer = AdamConfig::new()
            .with_epsilon(1e-7)
            .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(5.0)));
        let language = LanguageSettings::new().with_context(64).with_steps_per_epoch(140).with_valid_chars(30_000);
        let fit =
            FitConfig::new().with_epochs(20).with_batch_size(128).with_learning_rate(0.004).with_valid_fraction(0.1);
        Self::new(model, optimizer, language, fit)
    }
}

/// Recipe of `gpt`: a causal self-attention character language model (item 24's attention,
/// as a small GPT), what `config.json` holds. The defaults are the measured Moby Dick recipe.
#[derive(Config, Debug)]
pub struct GptRecipe {
    /// The network; `vocab` is set from the text when training starts.
    pub char_model: CharTransformerConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub language: LanguageSettings,
    pub fit: FitConfig,
}

impl Recipe for GptRecipe {
    const NAME: &'static str = "gpt";

    fn default_recipe() -> Self {
        let model = CharTransformerConfig::new(0)
            .with_d_model(128)
            .with_heads(4)
            .with_layers(4)
            .with_dropout(0.0)
            .with_context(128);
        let optimizer = AdamConfig::new()
            .with_beta_2(0.99)
            .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)));
        let language = LanguageSettings::new().with_context(128).with_steps_per_epoch(240).with_valid_chars(30_000);
        let fit =
            FitConfig::new().with_epochs(10).with_batch_size(32).with_learning_rate(0.002).with_valid_fraction(0.1);
        Self::new(model, optimizer, language, fit)
    }
}

crate::fit_recipe!(CharLstmRecipe, GptRecipe);

/// Implements [`LanguageRecipe`] for a recipe with fields `char_model` (a config with
/// `vocab`), `optimizer` and `language`; `$init` builds the network from the recipe.
macro_rules! language_recipe {
    ($recipe:ty => $model:ty, |$this:ident, $device:ident| $init:expr) => {
        impl LanguageRecipe for $recipe {
            type Model = $model;

            fn language(&self) -> &LanguageSettings {
                &self.language
            }
            fn language_mut(&mut self) -> &mut LanguageSettings {
                &mut self.language
            }
            fn optimizer(&self) -> &AdamConfig {
                &self.optimizer
            }
            fn set_vocab(&mut self, vocab: usize) {
                self.char_model.vocab = vocab;
            }
            fn init_language_model(&self, $device: &Device) -> $model {
                let $this = self;
                $init
            }
        }
    };
}

language_recipe!(CharLstmRecipe => CharLstm, |recipe, device| recipe.char_model.init(device));
// The GPT's positional table covers the training windows even when the model's own context is
// shorter.
language_recipe!(GptRecipe => CharTransformer, |recipe, device| recipe
    .char_model
    .clone()
    .with_context(recipe.language.context.max(recipe.char_model.context))
    .init(device));

/// The text, its tokeniser (fitted on the training part) and both parts as ids.
pub struct Corpus {
    pub source: String,
    pub tokenizer: CharTokenizer,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

impl Corpus {
    /// Reads the text and splits it; the tokeniser comes from `tokenizer` (a run's own) or is
    /// fitted on the training part.
    /// The last `valid_fraction` of the text (`fit.valid_fraction`) is held out.
    pub fn new(settings: &LanguageSettings, valid_fraction: f64, tokenizer: Option<CharTokenizer>) -> Result<Self> {
        if !(valid_fraction > 0.0 && valid_fraction < 0.5) {
            return Err(ZooError::usage(format!(
                "fit.valid_fraction {valid_fraction} must be in (0, 0.5) for a language model"
            )));
        }
        if settings.context < 2 {
            return Err(ZooError::usage("language.context must be at least 2 characters"));
        }
        let (text, source) = load_text(&settings.text)?;
        let (train, valid) = split_text(&text, valid_fraction);
        let tokenizer = tokenizer.unwrap_or_else(|| CharTokenizer::fit(train));
        let corpus = Self { source, train: tokenizer.encode(train), valid: tokenizer.encode(valid), tokenizer };
        if corpus.train.len() <= settings.context + 1 || corpus.valid.len() < 2 {
            return Err(ZooError::usage(format!(
                "{}: too short for windows of {} characters; lower language.context",
                corpus.source, settings.context
            )));
        }
        Ok(corpus)
    }

    /// Windows of the training part starting at `starts`: inputs and the next characters.
    ///
    /// # Shapes
    /// - output: `[starts, context]` and `[starts * context]`
    fn windows(&self, starts: &[usize], context: usize, device: &Device) -> (Tensor<2, Int>, Tensor<1, Int>) {
        let mut inputs = Vec::with_capacity(starts.len() * context);
        let mut targets = Vec::with_capacity(starts.len() * context);
        for &start in starts {
            inputs.extend(self.train[start..start + context].iter().map(|&i| i64::from(i)));
            targets.extend(self.train[start + 1..start + context + 1].iter().map(|&i| i64::from(i)));
        }
        (
            Tensor::from_data(TensorData::new(inputs, [starts.len(), context]), device),
            Tensor::from_data(TensorData::new(targets, [starts.len() * context]), device),
        )
    }
}

/// Where each row of the next training batch starts. Models that see only their window get
/// windows at random places; recurrent ones read `batch` contiguous streams, evenly spaced
/// through the training text from a random offset each epoch, each step continuing where the
/// last stopped (a stream that runs off the end wraps around).
struct Cursor {
    starts: Vec<usize>,
    contiguous: bool,
    context: usize,
    /// Highest start a window may have.
    last: usize,
}

impl Cursor {
    fn new(corpus: &Corpus, batch: usize, context: usize, contiguous: bool, rng: &mut SplitMix64) -> Self {
        let last = corpus.train.len() - context - 1;
        let offset = rng.below(last + 1);
        let starts = (0..batch).map(|b| (offset + b * (last + 1) / batch) % (last + 1)).collect();
        Self { starts, contiguous, context, last }
    }

    fn next(&mut self, rng: &mut SplitMix64) -> Vec<usize> {
        if self.contiguous {
            let out = self.starts.clone();
            for s in &mut self.starts {
                *s = (*s + self.context) % (self.last + 1);
            }
            out
        } else {
            self.starts.iter().map(|_| rng.below(self.last + 1)).collect()
        }
    }
}

/// Negative log-likelihood of each target under `logits`, in nats, and its rank among the
/// vocabulary (0: the model's top guess).
///
/// # Shapes
/// - logits: `[batch, len, vocab]`; targets: `batch * len` ids; outputs: `batch * len` values each
fn target_nats(logits: Tensor<3>, targets: &[u32]) -> Result<(Vec<f64>, Vec<usize>)> {
    let [batch, len, vocab] = logits.dims();
    let device = logits.device();
    let targets: Vec<i64> = targets.iter().map(|&i| i64::from(i)).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [batch * len]), &device);
    let log_probs = burn::tensor::activation::log_softmax(logits.reshape([batch * len, vocab]), 1);
    let picked = log_probs.clone().gather(1, targets.clone().reshape([batch * len, 1]));
    let ranks = crate::topk::target_ranks(log_probs, targets)?;
    Ok((crate::read::floats(picked)?.into_iter().map(|x| -f64::from(x)).collect(), ranks))
}

/// Mean negative log-likelihood in nats per character of `ids`: every character but the first
/// is predicted once, from the characters before it. A recurrent model reads the text as
/// `batch` contiguous streams, its state carried through each; a windowed model reads windows
/// of `context` characters half overlapping, so every character after the first window has
/// at least `context / 2` characters before it in view.
pub fn nats_per_char<M: CharModel>(
    model: &M,
    ids: &[u32],
    context: usize,
    batch: usize,
    device: &Device,
) -> Result<f64> {
    Ok(char_scores(model, ids, context, batch, device)?.nats)
}

/// How well a model predicts each next character of a held-out text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CharScores {
    /// Mean negative log-likelihood, nats per character.
    pub nats: f64,
    /// Next characters that were the model's top guess, in percent.
    pub accuracy: f64,
    /// Next characters among the model's five best guesses, in percent.
    pub top5_accuracy: f64,
}

/// [`nats_per_char`] with the top-1 and top-5 accuracy of the same predictions.
pub fn char_scores<M: CharModel>(
    model: &M,
    ids: &[u32],
    context: usize,
    batch: usize,
    device: &Device,
) -> Result<CharScores> {
    let targets = ids.len().saturating_sub(1);
    if targets == 0 {
        return Ok(CharScores { nats: 0.0, accuracy: 0.0, top5_accuracy: 0.0 });
    }
    let (mut total, mut count) = (0.0, 0usize);
    let mut ranks = Vec::with_capacity(targets);
    if M::CARRIES_STATE {
        // Streams of `per_row` targets each; the few left over form one more, shorter stream.
        let rows = batch.min(targets).max(1);
        let per_row = targets / rows;
        let mut state = None;
        for from in (0..per_row).step_by(context) {
            let len = context.min(per_row - from);
            let (mut inputs, mut expected) = (Vec::with_capacity(rows * len), Vec::with_capacity(rows * len));
            for r in 0..rows {
                let start = r * per_row + from;
                inputs.extend_from_slice(&ids[start..start + len]);
                expected.extend_from_slice(&ids[start + 1..start + len + 1]);
            }
            let (logits, next) = model.logits_from(ids_tensor(&inputs, rows, device), state);
            state = next;
            let (nats, rank) = target_nats(logits, &expected)?;
            total += nats.iter().sum::<f64>();
            ranks.extend(rank);
            count += expected.len();
        }
        let mut rest_state = None;
        for from in (rows * per_row..targets).step_by(context) {
            let end = (from + context).min(targets);
            let (logits, next) = model.logits_from(ids_tensor(&ids[from..end], 1, device), rest_state);
            rest_state = next;
            let (nats, rank) = target_nats(logits, &ids[from + 1..end + 1])?;
            total += nats.iter().sum::<f64>();
            ranks.extend(rank);
            count += end - from;
        }
    } else {
        // Window starts 0, stride, 2 stride, ...; each scores the targets after the ones
        // already scored.
        let stride = (context / 2).max(1);
        let mut windows = Vec::new(); // (start, length, first target position scored)
        let mut scored = 0;
        let mut start = 0;
        while scored < targets {
            let len = context.min(targets - start);
            windows.push((start, len, scored - start));
            scored = start + len;
            start += stride;
        }
        let (full, short): (Vec<_>, Vec<_>) = windows.into_iter().partition(|w| w.1 == context);
        for group in full.chunks(batch.max(1)).chain(short.chunks(1)) {
            let len = group[0].1;
            let (mut inputs, mut expected) =
                (Vec::with_capacity(group.len() * len), Vec::with_capacity(group.len() * len));
            for &(start, _, _) in group {
                inputs.extend_from_slice(&ids[start..start + len]);
                expected.extend_from_slice(&ids[start + 1..start + len + 1]);
            }
            let (nats, rank) = target_nats(model.logits(ids_tensor(&inputs, group.len(), device)), &expected)?;
            for (row, &(_, _, from)) in group.iter().enumerate() {
                total += nats[row * len + from..(row + 1) * len].iter().sum::<f64>();
                ranks.extend_from_slice(&rank[row * len + from..(row + 1) * len]);
                count += len - from;
            }
        }
    }
    debug_assert_eq!((count, ranks.len()), (targets, targets));
    Ok(CharScores {
        nats: total / count.max(1) as f64,
        accuracy: crate::topk::top_k_accuracy(&ranks, 1),
        top5_accuracy: crate::topk::top_k_accuracy(&ranks, 5),
    })
}

const VOCAB_FILE: &str = "vocab.txt";
/// Rows of a scoring batch: streams of a recurrent model, windows of the others.
const VALID_STREAMS: usize = 32;

/// `zoo train char-lstm|gpt`: a new run, or `--resume` of one.
pub fn train<R: LanguageRecipe>(request: &TrainRequest) -> Result<FitReport> {
    let (run, recipe, corpus, start) = match &request.resume {
        Some(dir) => {
            let (run, _) = RunDir::open_to_train(dir, R::NAME)?;
            let mut recipe: R = run.read_recipe()?;
            let latest = trainer::latest_checkpoint::<LanguageTraining<R>>(&run);
            let epoch = request.resume_epoch(&run, latest, recipe.fit_mut())?;
            run.write_json("config.json", &recipe)?;
            let corpus = Corpus::new(recipe.language(), recipe.fit().valid_fraction, Some(read_tokenizer(&run)?))?;
            (run, recipe, corpus, Some(epoch))
        }
        None => {
            if request.overrides.limit.is_some() {
                return Err(ZooError::usage(format!(
                    "--limit does not apply to {}: it trains on `language.steps_per_epoch` random windows an epoch",
                    R::NAME
                )));
            }
            let mut recipe: R = recipe_or_default(request.config_file.as_deref(), &request.sets)?;
            request.overrides.apply(recipe.fit_mut());
            if let Some(data) = &request.data {
                let path = std::fs::canonicalize(data).unwrap_or_else(|_| data.clone());
                recipe.language_mut().text =
                    if data.as_os_str() == "moby-dick" { "moby-dick".into() } else { path.display().to_string() };
            }
            recipe.fit().validate().map_err(ZooError::usage)?;
            let corpus = Corpus::new(recipe.language(), recipe.fit().valid_fraction, None)?;
            recipe.set_vocab(corpus.tokenizer.vocab_size());
            let run =
                RunDir::start(request.run_dir.as_deref(), &recipe, &recipe.language().text, &request.device_name)?;
            run.write_text(VOCAB_FILE, &corpus.tokenizer.to_text())?;
            (run, recipe, corpus, None)
        }
    };
    let fit = recipe.fit();
    println!(
        "zoo train {}: {} ({} characters for training, {} held out, vocabulary {}); {} steps of {} windows of {} an epoch; run folder {}",
        R::NAME,
        corpus.source,
        corpus.train.len(),
        corpus.valid.len(),
        corpus.tokenizer.vocab_size(),
        recipe.language().steps_per_epoch.max(1),
        fit.batch_size,
        recipe.language().context,
        run.path().display()
    );
    let mut training = LanguageTraining::new(recipe, corpus, &request.device);
    trainer::fit(&run, &mut training, start)
}

fn read_tokenizer(run: &RunDir) -> Result<CharTokenizer> {
    Ok(CharTokenizer::from_text(&run.read_text(VOCAB_FILE)?))
}

/// A character language model in training: random windows (or contiguous streams) of the
/// training text; validation in nats per character on the held-out end; a text sample per
/// epoch in `samples/`.
pub struct LanguageTraining<R: LanguageRecipe> {
    recipe: R,
    corpus: Corpus,
    model: R::Model,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    loss: CrossEntropyLoss,
    device: Device,
    train_device: Device,
}

impl<R: LanguageRecipe> LanguageTraining<R> {
    fn new(recipe: R, corpus: Corpus, device: &Device) -> Self {
        device.seed(recipe.fit().seed);
        let train_device = device.clone().autodiff();
        Self {
            model: recipe.init_language_model(&train_device),
            optimizer: recipe.fit().build_optimizer(recipe.optimizer(), 0.0),
            held: HeldGradients::default(),
            loss: CrossEntropyLossConfig::new().init(&train_device),
            recipe,
            corpus,
            device: device.clone(),
            train_device,
        }
    }

    fn steps(&self) -> usize {
        self.recipe.language().steps_per_epoch.max(1)
    }
}

impl<R: LanguageRecipe> Training for LanguageTraining<R> {
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];
    const UNIT: &'static str = "steps";

    fn name(&self) -> &str {
        R::NAME
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec::lower("Loss"),
            MetricSpec::lower(PERPLEXITY),
            MetricSpec::higher(ACCURACY),
            MetricSpec::higher(TOP5_ACCURACY),
            MetricSpec::lower(trainer::LEARNING_RATE),
            MetricSpec::higher("Characters/s"),
        ]
    }
    fn curves(&self) -> Vec<&'static str> {
        vec!["Loss"]
    }
    fn title(&self, _run: &RunDir) -> String {
        format!("{} character model", R::NAME)
    }
    fn epochs(&self) -> usize {
        self.recipe.fit().epochs
    }
    fn learning_rate(&self) -> Option<f64> {
        Some(self.recipe.fit().learning_rate)
    }
    fn early_stopping(&self) -> Option<EarlyStopping> {
        Some(self.recipe.fit().early_stopping.clone()).filter(EarlyStopping::is_on)
    }
    fn weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
    fn scheduler(&self, epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
        trainer::schedule(self.recipe.fit(), self.steps(), epochs_done)
    }
    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }
    fn load(&mut self, parts: Vec<Vec<u8>>, _epoch: usize) -> Result<()> {
        (self.model, self.optimizer) = load_model_and_optimizer(
            parts,
            self.recipe.init_language_model(&self.train_device),
            self.recipe.fit().build_optimizer(self.recipe.optimizer(), 0.0),
        )?;
        Ok(())
    }
    fn train_items(&self, _epoch: usize) -> usize {
        self.steps()
    }

    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> Result<()> {
        let (fit, settings) = (self.recipe.fit().clone(), self.recipe.language().clone());
        let mut rng = SplitMix64::new(fit.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut cursor = Cursor::new(&self.corpus, fit.batch_size, settings.context, R::Model::CARRIES_STATE, &mut rng);
        let mut state = None;
        let epoch_start = Instant::now();
        let (mut loss_sum, mut steps) = (0.0, 0usize);
        for step in 0..self.steps() {
            let lr = report.learning_rate_if(fit.step_due(step, self.steps()));
            let (inputs, targets) = self.corpus.windows(&cursor.next(&mut rng), settings.context, &self.train_device);
            let (logits, next) = self.model.logits_from(inputs, state);
            state = next;
            let [b, t, vocab] = logits.dims();
            let loss = self.loss.forward(logits.reshape([b * t, vocab]), targets);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            report.value("Loss", value);
            (loss_sum, steps) = (loss_sum + value, steps + 1);
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr.as_ref());
            let chars = ((step + 1) * fit.batch_size * settings.context) as f64;
            report.value("Characters/s", chars / epoch_start.elapsed().as_secs_f64().max(1e-9));
            if !report.progress(step + 1) {
                break;
            }
        }
        // Once an epoch: the exponential of the epoch's mean loss, not a mean of exponentials.
        if steps > 0 {
            report.value(PERPLEXITY, (loss_sum / steps as f64).exp());
        }
        Ok(())
    }

    fn valid_items(&self) -> usize {
        1
    }

    fn validate(&mut self, _epoch: usize, report: &mut Reporter) -> Result<()> {
        let settings = self.recipe.language();
        let valid_ids = match settings.valid_chars {
            0 => &self.corpus.valid[..],
            n => &self.corpus.valid[..n.min(self.corpus.valid.len())],
        };
        let scores = char_scores(&self.model.valid(), valid_ids, settings.context, VALID_STREAMS, &self.device)?;
        report.value("Loss", scores.nats);
        report.value(PERPLEXITY, scores.nats.exp());
        report.value(ACCURACY, scores.accuracy);
        report.value(TOP5_ACCURACY, scores.top5_accuracy);
        report.progress(1);
        Ok(())
    }

    fn after_epoch(&mut self, run: &RunDir, epoch: usize, _seconds: f64) -> Result<()> {
        let sample = generate_text(
            &self.model.valid(),
            &self.corpus.tokenizer,
            &self.recipe.language().prompt,
            300,
            0.8,
            epoch as u64,
            &self.device,
        )?;
        run.write_text(&format!("samples/epoch-{epoch:03}.txt"), &sample)
    }

    fn finish(&mut self, run: &RunDir, epochs: usize) -> Result<(String, String)> {
        write_module(&self.model.valid(), &run.file("model.bpk"))?;
        Ok((epochs_done(epochs), "weights model.bpk, samples in samples/".into()))
    }
}

/// `prompt` followed by `len` generated characters.
pub fn generate_text<M: CharModel>(
    model: &M,
    tokenizer: &CharTokenizer,
    prompt: &str,
    len: usize,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Result<String> {
    let mut rng = SplitMix64::new(seed);
    let ids = model.generate(&tokenizer.encode(prompt), len, temperature, &mut rng, device)?;
    Ok(format!("{prompt}{}", tokenizer.decode(&ids)))
}

/// A trained run: its recipe, tokeniser and final weights.
pub fn load<R: LanguageRecipe>(run_dir: &Path, device: &Device) -> Result<(RunDir, R, CharTokenizer, R::Model)> {
    let (run, _) = RunDir::open(run_dir, R::NAME)?;
    let recipe: R = run.read_recipe()?;
    let tokenizer = read_tokenizer(&run)?;
    let model = read_module(recipe.init_language_model(device), &run.file("model.bpk"))?;
    Ok((run, recipe, tokenizer, model))
}

/// What `zoo eval` reports for a language model and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LanguageEval {
    pub model: String,
    pub text: String,
    pub valid_chars: usize,
    pub nats_per_char: f64,
    pub bits_per_char: f64,
    /// Next characters that were the model's top guess, in percent.
    #[serde(default)]
    pub accuracy: f64,
    /// Next characters among its five best guesses, in percent.
    #[serde(default)]
    pub top5_accuracy: f64,
    pub context: usize,
    /// How the held-out text was read: contiguous streams with the state carried (recurrent
    /// models) or half-overlapping windows of `context` characters.
    pub reading: String,
    pub evaluated: String,
}

pub fn eval<R: LanguageRecipe>(run_dir: &Path, device: &Device) -> Result<LanguageEval> {
    let (run, recipe, tokenizer, model) = load::<R>(run_dir, device)?;
    let corpus = Corpus::new(recipe.language(), recipe.fit().valid_fraction, Some(tokenizer))?;
    let context = recipe.language().context;
    let scores = char_scores(&model, &corpus.valid, context, VALID_STREAMS, device)?;
    let report = LanguageEval {
        model: R::NAME.into(),
        text: corpus.source,
        valid_chars: corpus.valid.len() - 1,
        nats_per_char: scores.nats,
        bits_per_char: scores.nats / std::f64::consts::LN_2,
        accuracy: scores.accuracy,
        top5_accuracy: scores.top5_accuracy,
        context,
        reading: if R::Model::CARRIES_STATE {
            format!("{VALID_STREAMS} contiguous streams, state carried")
        } else {
            format!("windows of {context} characters overlapping by half")
        },
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// `zoo sample lstm|attention`: prints the prompt and its continuation; with `out`, writes it
/// there too. Returns the text.
pub fn sample<R: LanguageRecipe>(
    run_dir: &Path,
    prompt: &str,
    len: usize,
    temperature: f64,
    seed: u64,
    out: Option<&PathBuf>,
    device: &Device,
) -> Result<String> {
    if !(0.0..=10.0).contains(&temperature) {
        return Err(ZooError::usage(format!(
            "--temperature {temperature} must be between 0 (most likely character) and 10"
        )));
    }
    let (_, _, tokenizer, model) = load::<R>(run_dir, device)?;
    let text = generate_text(&model, &tokenizer, prompt, len, temperature, seed, device)?;
    if let Some(path) = out {
        crate::checkpoint::atomic_write(path, text.as_bytes()).with_path(path)?;
    }
    Ok(text)
}
