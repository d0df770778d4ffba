//! `attention` with `task` Classify: a transformer encoder with attention pooling labels
//! chunks of text (bundled: State of the Union addresses by the speaker's party). The split is
//! by document, and `zoo eval` scores two baselines on the same split beside the model: the
//! majority class and a bag-of-words logistic regression, both computed here.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use zoo_data::corpus::{Chunk, DocumentSource, Part, chunk_documents, label_set, load_documents, split_documents};
use zoo_data::{SplitMix64, WordTokenizer};
use zoo_models::{TextClassifier, TextClassifierConfig, padding_mask};

use crate::checkpoint::{ModelCheckpoints, read_module, write_module};
use crate::dashboard::{Dashboard, MetricSpec};
use crate::error::{Result, ZooError, io_error};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::loader::shuffle;
use crate::metrics_log::read_metrics;
use crate::plot::training_curves;
use crate::recipes::Recipe;
use crate::render::format_duration;
use crate::run::{RunDir, timestamp_iso};

/// What the classifier learns from; `config.json` under `classify`.
#[derive(Config, Debug)]
pub struct ClassifySettings {
    /// `sotu` (shipped with zoo) or a `.jsonl`, `.jsonl.gz` or `.csv` file.
    #[config(default = "String::from(\"sotu\")")]
    pub data: String,
    /// The field holding the text.
    #[config(default = "String::from(\"text\")")]
    pub text_field: String,
    /// The field holding the label.
    #[config(default = "String::from(\"party\")")]
    pub label_field: String,
    /// The labels to learn, in this order; documents with other labels are left out (empty:
    /// every label of the data).
    #[config(default = "vec![String::from(\"Democratic\"), String::from(\"Republican\")]")]
    pub labels: Vec<String>,
    /// Documents are cut into chunks of this many words; each chunk is one example.
    #[config(default = 100)]
    pub words_per_chunk: usize,
    /// Share of the documents (of each label) for training; `fit.valid_fraction` of them
    /// validate, the rest are the test.
    #[config(default = 0.7)]
    pub train_fraction: f64,
    /// Vocabulary: at most this many words of the training chunks...
    #[config(default = 20000)]
    pub max_words: usize,
    /// ...each seen at least this often.
    #[config(default = 2)]
    pub min_count: usize,
}

/// The chunks of each split, the labels and the vocabulary.
pub struct TextData {
    pub source: String,
    pub labels: Vec<String>,
    pub tokenizer: WordTokenizer,
    pub train: Vec<Chunk>,
    pub valid: Vec<Chunk>,
    pub test: Vec<Chunk>,
    pub documents: [usize; 3],
}

impl TextData {
    /// Reads and splits the documents; the vocabulary is the run's (`tokenizer`) or is built
    /// on the training chunks.
    pub fn new(settings: &ClassifySettings, valid_fraction: f64, seed: u64, tokenizer: Option<WordTokenizer>) -> Result<Self> {
        if settings.words_per_chunk == 0 {
            return Err(ZooError::usage("classify.words_per_chunk must be at least 1"));
        }
        if !(settings.train_fraction > 0.0 && settings.train_fraction + valid_fraction < 1.0) {
            return Err(ZooError::usage(format!(
                "classify.train_fraction {} plus fit.valid_fraction {valid_fraction} must leave documents for the test",
                settings.train_fraction
            )));
        }
        let source = DocumentSource { data: &settings.data, text_field: &settings.text_field, label_field: &settings.label_field };
        let documents = load_documents(&source)?;
        let labels = label_set(&documents, &settings.labels);
        if labels.len() < 2 {
            return Err(ZooError::usage(format!("{}: a classifier needs at least two labels; found {labels:?}", settings.data)));
        }
        let parts = split_documents(&documents, &labels, settings.train_fraction, valid_fraction, seed);
        let chunks = chunk_documents(&documents, &labels, settings.words_per_chunk);
        let (mut train, mut valid, mut test) = (vec![], vec![], vec![]);
        for chunk in chunks {
            match parts[chunk.document] {
                Some(Part::Train) => train.push(chunk),
                Some(Part::Valid) => valid.push(chunk),
                Some(Part::Test) => test.push(chunk),
                None => {}
            }
        }
        let count = |p: Part| parts.iter().filter(|x| **x == Some(p)).count();
        if train.is_empty() || valid.is_empty() || test.is_empty() {
            return Err(ZooError::usage(format!(
                "{}: too few documents with the labels {labels:?} to fill train, validation and test",
                settings.data
            )));
        }
        let tokenizer = tokenizer.unwrap_or_else(|| {
            let texts: Vec<String> = train.iter().map(|c| c.words.join(" ")).collect();
            WordTokenizer::fit(texts.iter().map(String::as_str), settings.max_words, settings.min_count)
        });
        Ok(Self {
            source: settings.data.clone(),
            labels,
            tokenizer,
            train,
            valid,
            test,
            documents: [count(Part::Train), count(Part::Valid), count(Part::Test)],
        })
    }

    /// Word ids of a chunk, at most `max_len`.
    fn ids(&self, chunk: &Chunk, max_len: usize) -> Vec<u32> {
        let mut ids = self.tokenizer.encode(&chunk.words.join(" "));
        ids.truncate(max_len);
        ids
    }
}

/// A padded batch: ids `[batch, len]`, padding mask `[batch, len]` and labels `[batch]`.
pub fn batch(sequences: &[Vec<u32>], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let len = sequences.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let mut ids = Vec::with_capacity(sequences.len() * len);
    for s in sequences {
        ids.extend(s.iter().map(|&i| i64::from(i)));
        ids.extend(std::iter::repeat_n(i64::from(WordTokenizer::PAD), len - s.len()));
    }
    let lengths: Vec<usize> = sequences.iter().map(|s| s.len().max(1)).collect();
    (Tensor::from_data(TensorData::new(ids, [sequences.len(), len]), device), padding_mask(&lengths, len, device))
}

fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(data, [labels.len()]), device)
}

/// What the `attention` recipe trains.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AttentionTask {
    /// A transformer-encoder text classifier with attention pooling (`classifier`, `classify`).
    Classify,
    /// A causal self-attention character language model, a small GPT (`char_model`, `language`).
    Language,
}

/// Recipe of `attention` (item 24): what `config.json` holds.
#[derive(Config, Debug)]
pub struct AttentionRecipe {
    /// `Classify` or `Language`; each uses its own model and data sections below.
    #[config(default = "AttentionTask::Classify")]
    pub task: AttentionTask,
    /// The classifier (task Classify); `vocab` and `num_classes` are set from the data.
    pub classifier: TextClassifierConfig,
    /// The GPT (task Language); `vocab` is set from the text when training starts.
    pub char_model: zoo_models::CharTransformerConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub classify: ClassifySettings,
    pub language: crate::language::LanguageSettings,
    pub fit: FitConfig,
}

impl Recipe for AttentionRecipe {
    const NAME: &'static str = "attention";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(10).with_batch_size(32).with_learning_rate(5e-4).with_valid_fraction(0.15);
        Self::new(
            TextClassifierConfig::new(0, 0),
            zoo_models::CharTransformerConfig::new(0),
            AdamConfig::new(),
            ClassifySettings::new(),
            crate::language::LanguageSettings::new(),
            fit,
        )
    }
}

impl crate::language::LanguageRecipe for AttentionRecipe {
    type Model = zoo_models::CharTransformer;

    fn language(&self) -> &crate::language::LanguageSettings {
        &self.language
    }
    fn language_mut(&mut self) -> &mut crate::language::LanguageSettings {
        &mut self.language
    }
    fn fit(&self) -> &FitConfig {
        &self.fit
    }
    fn fit_mut(&mut self) -> &mut FitConfig {
        &mut self.fit
    }
    fn optimizer(&self) -> &AdamConfig {
        &self.optimizer
    }
    fn set_vocab(&mut self, vocab: usize) {
        self.char_model.vocab = vocab;
    }
    fn init_language_model(&self, device: &Device) -> zoo_models::CharTransformer {
        self.char_model.clone().with_context(self.language.context.max(self.char_model.context)).init(device)
    }
}

/// Command-line overrides of the data fields (`--text-field`, `--label-field`).
#[derive(Clone, Debug, Default)]
pub struct FieldOverrides {
    pub text_field: Option<String>,
    pub label_field: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Progress {
    epoch: usize,
    seconds: f64,
    best_valid_accuracy: f64,
}

const VOCAB_FILE: &str = "vocab.txt";
const BEST_FILE: &str = "model.bpk";

/// `zoo train attention` with task Classify: `recipe` is the one [`TrainRequest::recipe`] read
/// (on `--resume`, the run's own).
pub fn train(request: &TrainRequest, recipe: AttentionRecipe, fields: &FieldOverrides) -> Result<()> {
    let (run, recipe, data, start) = match &request.resume {
        Some(dir) => {
            let (run, _) = RunDir::open(dir, AttentionRecipe::NAME)?;
            let mut recipe = recipe;
            let latest = ModelCheckpoints::new(&run.checkpoint_dir()).latest();
            let epoch = request.resume_epoch(&run, latest, &mut recipe.fit)?;
            run.write_json("config.json", &recipe)?;
            let data = TextData::new(&recipe.classify, recipe.fit.valid_fraction, recipe.fit.seed, Some(read_vocab(&run)?))?;
            (run, recipe, data, Some(epoch))
        }
        None => {
            let mut recipe = recipe;
            request.overrides.apply(&mut recipe.fit);
            if let Some(path) = &request.data {
                if path.as_os_str() != "sotu" {
                    // A user's file: every label it has, unless a recipe file chose some.
                    if request.config_file.is_none() {
                        recipe.classify.labels.clear();
                    }
                    recipe.classify.data = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).display().to_string();
                } else {
                    recipe.classify.data = "sotu".into();
                }
            }
            if let Some(f) = &fields.text_field {
                recipe.classify.text_field = f.clone();
            }
            if let Some(f) = &fields.label_field {
                recipe.classify.label_field = f.clone();
            }
            recipe.fit.validate().map_err(ZooError::usage)?;
            let data = TextData::new(&recipe.classify, recipe.fit.valid_fraction, recipe.fit.seed, None)?;
            recipe.classifier.vocab = data.tokenizer.vocab_size();
            recipe.classifier.num_classes = data.labels.len();
            recipe.classify.labels = data.labels.clone();
            let run = RunDir::start(request.run_dir.as_deref(), &recipe, &recipe.classify.data, &request.device_name)?;
            std::fs::write(run.file(VOCAB_FILE), data.tokenizer.to_text()).map_err(|e| io_error(&run.file(VOCAB_FILE), e))?;
            (run, recipe, data, None)
        }
    };
    fit(&run, &recipe, &data, &request.device, start)
}

fn read_vocab(run: &RunDir) -> Result<WordTokenizer> {
    let path = run.file(VOCAB_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
    Ok(WordTokenizer::from_text(&text))
}

/// Accuracy (share) of `model` on `chunks`.
pub fn accuracy(model: &TextClassifier, data: &TextData, chunks: &[Chunk], device: &Device) -> f64 {
    let mut correct = 0;
    for group in chunks.chunks(128) {
        let sequences: Vec<Vec<u32>> = group.iter().map(|c| data.ids(c, model.max_len())).collect();
        let (ids, padding) = batch(&sequences, device);
        let (logits, _) = model.forward(ids, padding);
        let predicted = logits.argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
        correct += predicted.iter().zip(group).filter(|(p, c)| **p as usize == c.label).count();
    }
    correct as f64 / chunks.len().max(1) as f64
}

fn fit(run: &RunDir, recipe: &AttentionRecipe, data: &TextData, device: &Device, resume_from: Option<usize>) -> Result<()> {
    let fit = &recipe.fit;
    device.seed(fit.seed);
    let train_device = device.clone().autodiff();
    let mut model = recipe.classifier.init(&train_device);
    let mut optimizer = recipe.optimizer.init();
    let checkpoints = ModelCheckpoints::new(&run.checkpoint_dir());
    let train_chunks: Vec<&Chunk> = if fit.limit > 0 { data.train.iter().take(fit.limit).collect() } else { data.train.iter().collect() };
    let steps = train_chunks.len().div_ceil(fit.batch_size);
    let start = resume_from.unwrap_or(0);
    let mut scheduler = fit.scheduler_after(steps, start).map_err(ZooError::usage)?;
    let (mut seconds_before, mut best) = (0.0, -1.0);
    if let Some(epoch) = resume_from {
        let progress: Progress;
        (model, optimizer, progress) = checkpoints.load(epoch, model, optimizer)?;
        (seconds_before, best) = (progress.seconds, progress.best_valid_accuracy);
    }
    println!(
        "zoo train attention: {} by {} ({}), documents {}/{}/{}, chunks of {} words {}/{}/{}, vocabulary {}; run folder {}",
        data.source,
        recipe.classify.label_field,
        data.labels.join(" vs "),
        data.documents[0],
        data.documents[1],
        data.documents[2],
        recipe.classify.words_per_chunk,
        train_chunks.len(),
        data.valid.len(),
        data.test.len(),
        data.tokenizer.vocab_size(),
        run.path().display()
    );
    let metrics = [MetricSpec::lower("Loss"), MetricSpec::higher("Accuracy"), MetricSpec::lower("Learning Rate")];
    let mut dashboard = Dashboard::new(AttentionRecipe::NAME, "samples", &metrics, &run.file("metrics.csv"), fit.epochs, start + 1);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let started = Instant::now();
    let mut stopped = false;
    for epoch in start + 1..=fit.epochs {
        let mut order: Vec<usize> = (0..train_chunks.len()).collect();
        shuffle(&mut order, fit.seed.wrapping_add(epoch as u64));
        dashboard.start_split("train", order.len());
        for (i, indices) in order.chunks(fit.batch_size).enumerate() {
            let lr = scheduler.step();
            let sequences: Vec<Vec<u32>> = indices.iter().map(|&j| data.ids(train_chunks[j], recipe.classifier.max_len)).collect();
            let labels: Vec<usize> = indices.iter().map(|&j| train_chunks[j].label).collect();
            let (ids, padding) = batch(&sequences, &train_device);
            let (logits, _) = model.forward(ids, padding);
            let predicted = logits.clone().argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
            let correct = predicted.iter().zip(&labels).filter(|(p, l)| **p as usize == **l).count();
            let loss = loss_fn.forward(logits, labels_tensor(&labels, &train_device));
            dashboard.value("Loss", f64::from(loss.clone().into_scalar::<f32>()));
            dashboard.value("Accuracy", 100.0 * correct as f64 / labels.len() as f64);
            dashboard.value("Learning Rate", lr.base());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            dashboard.progress(((i + 1) * fit.batch_size).min(order.len()));
            if dashboard.should_stop() {
                stopped = true;
                break;
            }
        }
        dashboard.end_split();
        if stopped {
            break;
        }
        dashboard.start_split("valid", data.valid.len());
        let plain = model.valid();
        let valid_accuracy = accuracy(&plain, data, &data.valid, device);
        dashboard.value("Accuracy", 100.0 * valid_accuracy);
        dashboard.progress(data.valid.len());
        dashboard.end_split();
        // The weights of the best validation epoch are the run's model (early stopping).
        if valid_accuracy > best {
            best = valid_accuracy;
            write_module(&plain, &run.file(BEST_FILE))?;
        }
        let progress = Progress { epoch, seconds: seconds_before + started.elapsed().as_secs_f64(), best_valid_accuracy: best };
        checkpoints.save(epoch, &model, &optimizer, &progress)?;
        dashboard.end_epoch(epoch).map_err(|e| io_error(&run.file("metrics.csv"), e))?;
    }
    dashboard.finish();
    let seconds = seconds_before + started.elapsed().as_secs_f64();
    let rows = read_metrics(&run.file("metrics.csv")).unwrap_or_default();
    training_curves(&run.file("curves.png"), "attention classifier", &rows, &["Loss", "Accuracy"])
        .map_err(|e| io_error(&run.file("curves.png"), e))?;
    if stopped {
        println!("stopped after {}; {}", format_duration(seconds), checkpoints.stopped_hint(AttentionRecipe::NAME, run.path()));
    } else {
        println!(
            "trained attention for {} epochs in {}; best validation accuracy {:.2} %; run folder {} (weights model.bpk)",
            fit.epochs,
            format_duration(seconds),
            100.0 * best,
            run.path().display()
        );
    }
    Ok(())
}

/// A trained classifier run.
pub fn load(run_dir: &Path, device: &Device) -> Result<(RunDir, AttentionRecipe, WordTokenizer, TextClassifier)> {
    let (run, _) = RunDir::open(run_dir, AttentionRecipe::NAME)?;
    let recipe: AttentionRecipe = run.read_json("config.json")?;
    if recipe.task != AttentionTask::Classify {
        return Err(ZooError::usage(format!("{}: this attention run is a language model; use `zoo sample attention`", run_dir.display())));
    }
    let vocab = read_vocab(&run)?;
    let model = read_module(recipe.classifier.init(device), &run.file(BEST_FILE))?;
    Ok((run, recipe, vocab, model))
}

/// One line of the evaluation table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodAccuracy {
    pub method: String,
    pub test_accuracy: f64,
    pub valid_accuracy: f64,
}

/// What `zoo eval attention` reports for a classifier and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifyEval {
    pub data: String,
    pub labels: Vec<String>,
    pub test_chunks: usize,
    pub test_documents: usize,
    /// Transformer, bag-of-words logistic regression, majority class.
    pub methods: Vec<MethodAccuracy>,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, device: &Device) -> Result<ClassifyEval> {
    let (run, recipe, vocab, model) = load(run_dir, device)?;
    let data = TextData::new(&recipe.classify, recipe.fit.valid_fraction, recipe.fit.seed, Some(vocab))?;
    let mut methods = vec![MethodAccuracy {
        method: "transformer + attention pooling".into(),
        test_accuracy: accuracy(&model, &data, &data.test, device),
        valid_accuracy: accuracy(&model, &data, &data.valid, device),
    }];
    let bow = BagOfWords::fit(&data, recipe.fit.seed);
    methods.push(MethodAccuracy {
        method: format!("bag-of-words logistic regression (L2 {:e})", bow.l2),
        test_accuracy: bow.accuracy(&data, &data.test),
        valid_accuracy: bow.accuracy(&data, &data.valid),
    });
    let mut counts = vec![0usize; data.labels.len()];
    for c in &data.train {
        counts[c.label] += 1;
    }
    let majority = (0..counts.len()).max_by_key(|&l| counts[l]).unwrap_or(0);
    let share = |chunks: &[Chunk]| chunks.iter().filter(|c| c.label == majority).count() as f64 / chunks.len().max(1) as f64;
    methods.push(MethodAccuracy {
        method: format!("majority class ({})", data.labels[majority]),
        test_accuracy: share(&data.test),
        valid_accuracy: share(&data.valid),
    });
    let report = ClassifyEval {
        data: data.source.clone(),
        labels: data.labels.clone(),
        test_chunks: data.test.len(),
        test_documents: data.documents[2],
        methods,
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// A multinomial logistic regression on which vocabulary words a chunk contains (binary
/// features), trained with Adam; the L2 strength is the one of 0, 1e-5, 1e-4, 1e-3 that does
/// best on the validation chunks.
pub struct BagOfWords {
    /// `[vocab][classes]`
    weights: Vec<Vec<f64>>,
    bias: Vec<f64>,
    pub l2: f64,
}

impl BagOfWords {
    fn features(data: &TextData, chunk: &Chunk) -> Vec<usize> {
        let mut ids: Vec<usize> = data.tokenizer.encode(&chunk.words.join(" ")).into_iter().map(|i| i as usize).filter(|&i| i >= 2).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn fit(data: &TextData, seed: u64) -> Self {
        let train: Vec<(Vec<usize>, usize)> = data.train.iter().map(|c| (Self::features(data, c), c.label)).collect();
        let mut best: Option<(f64, Self)> = None;
        for l2 in [0.0, 1e-5, 1e-4, 1e-3] {
            let model = Self::train(&train, data.tokenizer.vocab_size(), data.labels.len(), l2, seed);
            let valid = model.accuracy(data, &data.valid);
            if best.as_ref().is_none_or(|(b, _)| valid > *b) {
                best = Some((valid, model));
            }
        }
        best.expect("four fits").1
    }

    fn logits(&self, features: &[usize]) -> Vec<f64> {
        let mut out = self.bias.clone();
        for &f in features {
            for (o, w) in out.iter_mut().zip(&self.weights[f]) {
                *o += w;
            }
        }
        out
    }

    fn train(examples: &[(Vec<usize>, usize)], vocab: usize, classes: usize, l2: f64, seed: u64) -> Self {
        let mut model = Self { weights: vec![vec![0.0; classes]; vocab], bias: vec![0.0; classes], l2 };
        let (lr, b1, b2, eps, batch, epochs): (f64, f64, f64, f64, usize, usize) = (0.01, 0.9, 0.999, 1e-8, 32, 10);
        let mut m = vec![vec![0.0; classes]; vocab + 1];
        let mut v = vec![vec![0.0; classes]; vocab + 1];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = SplitMix64::new(seed);
        let mut t = 0;
        for _ in 0..epochs {
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for group in order.chunks(batch) {
                t += 1;
                let mut grad = vec![vec![0.0; classes]; vocab + 1]; // the last row is the bias
                for &e in group {
                    let (features, label) = &examples[e];
                    let logits = model.logits(features);
                    let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let exp: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
                    let sum: f64 = exp.iter().sum();
                    for k in 0..classes {
                        let g = (exp[k] / sum - f64::from(u8::from(k == *label))) / group.len() as f64;
                        grad[vocab][k] += g;
                        for &f in features {
                            grad[f][k] += g;
                        }
                    }
                }
                let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                for (row, g_row) in grad.iter().enumerate() {
                    let params = if row == vocab { &mut model.bias } else { &mut model.weights[row] };
                    for k in 0..classes {
                        let g = g_row[k] + if row == vocab { 0.0 } else { l2 * params[k] };
                        m[row][k] = b1 * m[row][k] + (1.0 - b1) * g;
                        v[row][k] = b2 * v[row][k] + (1.0 - b2) * g * g;
                        params[k] -= lr * (m[row][k] / c1) / ((v[row][k] / c2).sqrt() + eps);
                    }
                }
            }
        }
        model
    }

    pub fn accuracy(&self, data: &TextData, chunks: &[Chunk]) -> f64 {
        let correct = chunks
            .iter()
            .filter(|c| {
                let logits = self.logits(&Self::features(data, c));
                let predicted = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap_or(0);
                predicted == c.label
            })
            .count();
        correct as f64 / chunks.len().max(1) as f64
    }
}

/// What `zoo predict attention` prints for one text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TextPrediction {
    pub words: usize,
    pub used_words: usize,
    /// `(label, probability)`, most likely first.
    pub probabilities: Vec<(String, f64)>,
    /// `(word, weight)` of the tokens the pooling query weighted most.
    pub top_tokens: Vec<(String, f64)>,
}

pub fn predict(run_dir: &Path, texts: &[String], top: usize, device: &Device) -> Result<Vec<TextPrediction>> {
    let (_, recipe, vocab, model) = load(run_dir, device)?;
    let mut out = Vec::new();
    for text in texts {
        let words = zoo_data::text::words(text);
        if words.is_empty() {
            return Err(ZooError::usage(format!("\"{text}\": no words to classify; give some text")));
        }
        let mut ids = vocab.encode(text);
        ids.truncate(model.max_len());
        let (x, padding) = batch(std::slice::from_ref(&ids), device);
        let (logits, weights) = model.forward(x, padding);
        let probs = softmax(logits, 1).into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        let weights = weights.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        let mut probabilities: Vec<(String, f64)> = recipe.classify.labels.iter().cloned().zip(probs.iter().map(|&p| f64::from(p))).collect();
        probabilities.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut tokens: Vec<(String, f64)> = words.iter().take(ids.len()).zip(&weights).zip(&ids)
            .map(|((w, &a), &id)| (if id == WordTokenizer::UNKNOWN { format!("{w} (unknown)") } else { w.clone() }, f64::from(a)))
            .collect();
        tokens.sort_by(|a, b| b.1.total_cmp(&a.1));
        tokens.truncate(top);
        out.push(TextPrediction { words: words.len(), used_words: ids.len(), probabilities, top_tokens: tokens });
    }
    Ok(out)
}
