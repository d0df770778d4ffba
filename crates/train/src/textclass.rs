//! `attention` with `task` Classify: a transformer encoder with attention pooling labels
//! chunks of text (bundled: State of the Union addresses by the speaker's party). The split is
//! by document, and `zoo eval` scores two baselines on the same split beside the model: the
//! majority class and a bag-of-words logistic regression, both computed here.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zoo_data::corpus::{Chunk, DocumentSource, Part, chunk_documents, label_set, load_documents, split_documents};
use zoo_data::{SplitMix64, WordTokenizer};
use zoo_models::{TextClassifier, TextClassifierConfig, padding_mask};

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes, read_module, write_module};
use crate::classifier::PENALTY;
use crate::dashboard::MetricSpec;
use crate::error::{Result, ZooError};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::loader::shuffle;
use crate::recipes::{Recipe, recipe_or_default};
use crate::regularize::Regularization;
use crate::run::{RunDir, timestamp_iso};
use crate::trainer::{self, EarlyStopping, FitReport, Reporter, Training, epochs_done};

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
    pub fn new(
        settings: &ClassifySettings,
        valid_fraction: f64,
        seed: u64,
        tokenizer: Option<WordTokenizer>,
    ) -> Result<Self> {
        if settings.words_per_chunk == 0 {
            return Err(ZooError::usage("classify.words_per_chunk must be at least 1"));
        }
        if !(settings.train_fraction > 0.0 && settings.train_fraction + valid_fraction < 1.0) {
            return Err(ZooError::usage(format!(
                "classify.train_fraction {} plus fit.valid_fraction {valid_fraction} must leave documents for the test",
                settings.train_fraction
            )));
        }
        let source = DocumentSource {
            data: &settings.data,
            text_field: &settings.text_field,
            label_field: &settings.label_field,
        };
        let documents = load_documents(&source)?;
        let labels = label_set(&documents, &settings.labels);
        if labels.len() < 2 {
            return Err(ZooError::usage(format!(
                "{}: a classifier needs at least two labels; found {labels:?}",
                settings.data
            )));
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

/// Recipe of `attention` (item 24): what `config.json` holds.
#[derive(Config, Debug)]
pub struct AttentionRecipe {
    /// The classifier; `vocab` and `num_classes` are set from the data.
    pub classifier: TextClassifierConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub classify: ClassifySettings,
    pub fit: FitConfig,
    /// L1/L2 penalties and decoupled weight decay (all off by default).
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
}

impl Recipe for AttentionRecipe {
    const NAME: &'static str = "attention";

    fn default_recipe() -> Self {
        let fit =
            FitConfig::new().with_epochs(10).with_batch_size(32).with_learning_rate(5e-4).with_valid_fraction(0.15);
        Self::new(TextClassifierConfig::new(0, 0), AdamConfig::new(), ClassifySettings::new(), fit)
    }
}

crate::fit_recipe!(AttentionRecipe);

/// Command-line overrides of the data fields (`--text-field`, `--label-field`).
#[derive(Clone, Debug, Default)]
pub struct FieldOverrides {
    pub text_field: Option<String>,
    pub label_field: Option<String>,
}

const VOCAB_FILE: &str = "vocab.txt";
/// The validation metric of the classes' mean F1, in percent.
const MACRO_F1: &str = "Macro F1";
const BEST_FILE: &str = "model.bpk";

/// `zoo train attention`: a new run (`--data`, `--text-field`, `--label-field` choose the
/// documents), or `--resume` of one.
pub fn train(request: &TrainRequest, fields: &FieldOverrides) -> Result<FitReport> {
    let (run, recipe, data, start) = match &request.resume {
        Some(dir) => {
            if fields.text_field.is_some() || fields.label_field.is_some() {
                return Err(ZooError::usage(
                    "--resume continues a run with its own data; --text-field and --label-field cannot change it",
                ));
            }
            let (run, _) = RunDir::open_to_train(dir, AttentionRecipe::NAME)?;
            let mut recipe: AttentionRecipe = run.read_recipe()?;
            let latest = trainer::latest_checkpoint::<TextClassTraining>(&run);
            let epoch = request.resume_epoch(&run, latest, &mut recipe.fit)?;
            run.write_json("config.json", &recipe)?;
            let data =
                TextData::new(&recipe.classify, recipe.fit.valid_fraction, recipe.fit.seed, Some(read_vocab(&run)?))?;
            (run, recipe, data, Some(epoch))
        }
        None => {
            let mut recipe: AttentionRecipe = recipe_or_default(request.config_file.as_deref(), &request.sets)?;
            request.overrides.apply(&mut recipe.fit);
            if let Some(path) = &request.data {
                if path.as_os_str() != "sotu" {
                    // A user's file: every label it has, unless a recipe file chose some.
                    if request.config_file.is_none() && request.sets.is_empty() {
                        recipe.classify.labels.clear();
                    }
                    recipe.classify.data =
                        std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).display().to_string();
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
            run.write_text(VOCAB_FILE, &data.tokenizer.to_text())?;
            (run, recipe, data, None)
        }
    };
    let mut training = TextClassTraining::new(recipe, data, &request.device);
    let t = &training;
    println!(
        "zoo train attention: {} by {} ({}), documents {}/{}/{}, chunks of {} words {}/{}/{}, vocabulary {}; run folder {}",
        t.data.source,
        t.recipe.classify.label_field,
        t.data.labels.join(" vs "),
        t.data.documents[0],
        t.data.documents[1],
        t.data.documents[2],
        t.recipe.classify.words_per_chunk,
        t.train_chunks,
        t.data.valid.len(),
        t.data.test.len(),
        t.data.tokenizer.vocab_size(),
        run.path().display()
    );
    trainer::fit(&run, &mut training, start)
}

fn read_vocab(run: &RunDir) -> Result<WordTokenizer> {
    Ok(WordTokenizer::from_text(&run.read_text(VOCAB_FILE)?))
}

/// Accuracy (share) of `model` on `chunks`.
pub fn accuracy(model: &TextClassifier, data: &TextData, chunks: &[Chunk], device: &Device) -> Result<f64> {
    Ok(scores(model, data, chunks, device)?.accuracy)
}

/// How a classifier did on some chunks: accuracy, mean cross-entropy and the confusion matrix
/// (`confusion[true][predicted]`), from which precision, recall and F1 per class.
pub struct Scores {
    pub accuracy: f64,
    pub loss: f64,
    pub confusion: Vec<Vec<u64>>,
    /// Area under the ROC curve of each class against the rest, from the softmax
    /// probabilities (0.5: no better than chance; NaN for a class the chunks lack or fill).
    pub auroc: Vec<f64>,
}

/// The area under the ROC curve of `scores` for the items where `positive` is true: the chance
/// that a positive item scores above a negative one, ties counting a half (the Mann-Whitney
/// statistic, from average ranks). NaN without both kinds of item.
pub fn auroc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average 1-based ranks over runs of equal scores.
    let mut ranks = vec![0.0f64; scores.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    let positives = positive.iter().filter(|&&p| p).count() as f64;
    let negatives = positive.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, p)| **p).map(|(r, _)| r).sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

impl Scores {
    /// `(precision, recall, f1, support)` of class `c` (0 where undefined).
    pub fn class(&self, c: usize) -> (f64, f64, f64, u64) {
        let true_positive = self.confusion[c][c] as f64;
        let predicted: u64 = self.confusion.iter().map(|row| row[c]).sum();
        let support: u64 = self.confusion[c].iter().sum();
        let ratio = |a: f64, b: u64| if b > 0 { a / b as f64 } else { 0.0 };
        let (precision, recall) = (ratio(true_positive, predicted), ratio(true_positive, support));
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        (precision, recall, f1, support)
    }

    /// The mean F1 over the classes, each counting the same (macro).
    pub fn macro_f1(&self) -> f64 {
        let n = self.confusion.len();
        (0..n).map(|c| self.class(c).2).sum::<f64>() / n.max(1) as f64
    }
}

/// Scores of `model` on `chunks`.
pub fn scores(model: &TextClassifier, data: &TextData, chunks: &[Chunk], device: &Device) -> Result<Scores> {
    let classes = data.labels.len();
    let mut confusion = vec![vec![0u64; classes]; classes];
    let (mut correct, mut loss_sum) = (0, 0.0);
    // [chunk * classes] softmax probabilities, for the AUROC.
    let mut probabilities = Vec::with_capacity(chunks.len() * classes);
    let loss = CrossEntropyLossConfig::new().init(device);
    for group in chunks.chunks(128) {
        let sequences: Vec<Vec<u32>> = group.iter().map(|c| data.ids(c, model.max_len())).collect();
        let (ids, padding) = batch(&sequences, device);
        let (logits, _) = model.forward(ids, padding);
        let predicted = crate::read::ints(logits.clone().argmax(1))?;
        probabilities.extend(crate::read::floats(softmax(logits.clone(), 1))?);
        correct += predicted.iter().zip(group).filter(|(p, c)| **p as usize == c.label).count();
        for (p, c) in predicted.iter().zip(group) {
            confusion[c.label][(*p as usize).min(classes - 1)] += 1;
        }
        let labels: Vec<usize> = group.iter().map(|c| c.label).collect();
        let mean = crate::read::floats(loss.forward(logits, labels_tensor(&labels, device)))?;
        loss_sum += f64::from(mean[0]) * group.len() as f64;
    }
    let n = chunks.len().max(1) as f64;
    let auroc = (0..classes)
        .map(|c| {
            let of_class: Vec<f32> = probabilities.iter().skip(c).step_by(classes).copied().collect();
            let positive: Vec<bool> = chunks.iter().map(|chunk| chunk.label == c).collect();
            auroc(&of_class, &positive)
        })
        .collect();
    Ok(Scores { accuracy: correct as f64 / n, loss: loss_sum / n, confusion, auroc })
}

/// The text classifier in training: shuffled chunks, validation accuracy; the weights of the
/// best validation epoch are the run's `model.bpk`.
pub struct TextClassTraining {
    recipe: AttentionRecipe,
    data: TextData,
    model: TextClassifier,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    loss: CrossEntropyLoss,
    /// The first `fit.limit` training chunks (all without a limit).
    train_chunks: usize,
    /// Best validation accuracy so far (share); -1 before the first epoch.
    best: f64,
    /// The epoch just validated is the best so far: its weights become `model.bpk`.
    best_pending: bool,
    device: Device,
    train_device: Device,
}

impl TextClassTraining {
    fn new(recipe: AttentionRecipe, data: TextData, device: &Device) -> Self {
        device.seed(recipe.fit.seed);
        let train_device = device.clone().autodiff();
        let limit = recipe.fit.limit;
        Self {
            model: recipe.classifier.init(&train_device),
            optimizer: recipe.fit.build_optimizer(&recipe.optimizer, recipe.regularization.weight_decay),
            held: HeldGradients::default(),
            loss: CrossEntropyLossConfig::new().init(&train_device),
            train_chunks: if limit > 0 { data.train.len().min(limit) } else { data.train.len() },
            best: -1.0,
            best_pending: false,
            recipe,
            data,
            device: device.clone(),
            train_device,
        }
    }
}

impl Training for TextClassTraining {
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];
    const UNIT: &'static str = "samples";

    fn name(&self) -> &str {
        AttentionRecipe::NAME
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        let mut metrics = vec![
            MetricSpec::lower("Loss"),
            MetricSpec::higher("Accuracy"),
            MetricSpec::higher(MACRO_F1),
            MetricSpec::lower(trainer::LEARNING_RATE),
        ];
        if self.recipe.regularization.penalises() {
            metrics.push(MetricSpec::lower(PENALTY));
        }
        metrics
    }
    fn curves(&self) -> Vec<&'static str> {
        vec!["Loss", "Accuracy"]
    }
    fn early_stopping(&self) -> Option<EarlyStopping> {
        Some(self.recipe.fit.early_stopping.clone()).filter(EarlyStopping::is_on)
    }
    fn weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        // Without early stopping this family keeps its best-accuracy epoch itself.
        if self.early_stopping().is_none() {
            return Ok(Vec::new());
        }
        Ok(vec![(BEST_FILE, module_bytes(&self.model.valid())?)])
    }
    fn title(&self, _run: &RunDir) -> String {
        "attention classifier".into()
    }
    fn epochs(&self) -> usize {
        self.recipe.fit.epochs
    }
    fn learning_rate(&self) -> Option<f64> {
        Some(self.recipe.fit.learning_rate)
    }
    fn scheduler(&self, epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
        trainer::schedule(&self.recipe.fit, self.train_chunks.div_ceil(self.recipe.fit.batch_size), epochs_done)
    }
    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }
    fn load(&mut self, parts: Vec<Vec<u8>>, _epoch: usize) -> Result<()> {
        (self.model, self.optimizer) = load_model_and_optimizer(
            parts,
            self.recipe.classifier.init(&self.train_device),
            self.recipe.fit.build_optimizer(&self.recipe.optimizer, self.recipe.regularization.weight_decay),
        )?;
        Ok(())
    }
    fn state(&self) -> Map<String, Value> {
        let mut state = Map::new();
        state.insert("best_valid_accuracy".into(), self.best.into());
        state
    }
    fn restore(&mut self, state: &Map<String, Value>, _epoch: usize) -> Result<()> {
        self.best = state.get("best_valid_accuracy").and_then(Value::as_f64).unwrap_or(-1.0);
        Ok(())
    }
    fn train_items(&self, _epoch: usize) -> usize {
        self.train_chunks
    }

    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> Result<()> {
        let fit = &self.recipe.fit;
        let mut order: Vec<usize> = (0..self.train_chunks).collect();
        shuffle(&mut order, fit.seed.wrapping_add(epoch as u64));
        let batches = order.len().div_ceil(fit.batch_size);
        for (i, indices) in order.chunks(fit.batch_size).enumerate() {
            let lr = report.learning_rate_if(fit.step_due(i, batches));
            let chunks: Vec<&Chunk> = indices.iter().map(|&j| &self.data.train[j]).collect();
            let sequences: Vec<Vec<u32>> =
                chunks.iter().map(|c| self.data.ids(c, self.recipe.classifier.max_len)).collect();
            let labels: Vec<usize> = chunks.iter().map(|c| c.label).collect();
            let (ids, padding) = batch(&sequences, &self.train_device);
            let (logits, _) = self.model.forward(ids, padding);
            let predicted = crate::read::ints(logits.clone().argmax(1))?;
            let correct = predicted.iter().zip(&labels).filter(|(p, l)| **p as usize == **l).count();
            let loss = self.loss.forward(logits, labels_tensor(&labels, &self.train_device));
            report.value_over("Loss", f64::from(loss.clone().into_scalar::<f32>()), labels.len());
            report.value_over("Accuracy", 100.0 * correct as f64 / labels.len() as f64, labels.len());
            let objective = match self.recipe.regularization.penalty(&self.model) {
                Some(penalty) => {
                    report.value_over(PENALTY, f64::from(penalty.clone().into_scalar::<f32>()), labels.len());
                    loss + penalty
                }
                None => loss,
            };
            let grads = GradientsParams::from_grads(objective.backward(), &self.model);
            self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr.as_ref());
            if !report.progress(((i + 1) * fit.batch_size).min(order.len())) {
                break;
            }
        }
        Ok(())
    }

    fn valid_items(&self) -> usize {
        self.data.valid.len()
    }

    fn validate(&mut self, _epoch: usize, report: &mut Reporter) -> Result<()> {
        let scores = scores(&self.model.valid(), &self.data, &self.data.valid, &self.device)?;
        let valid_accuracy = scores.accuracy;
        report.value("Accuracy", 100.0 * valid_accuracy);
        report.value("Loss", scores.loss);
        report.value(MACRO_F1, 100.0 * scores.macro_f1());
        report.progress(self.data.valid.len());
        if valid_accuracy > self.best {
            self.best = valid_accuracy;
            self.best_pending = true;
        }
        Ok(())
    }

    fn after_epoch(&mut self, run: &RunDir, _epoch: usize, _seconds: f64) -> Result<()> {
        // The weights of the best validation epoch are the run's model; under the recipe's
        // early stopping the loop keeps the best epoch of its metric instead.
        if std::mem::take(&mut self.best_pending) && self.early_stopping().is_none() {
            write_module(&self.model.valid(), &run.file(BEST_FILE))?;
        }
        Ok(())
    }

    fn finish(&mut self, run: &RunDir, epochs: usize) -> Result<(String, String)> {
        if self.early_stopping().is_some() {
            // The last epoch's weights; the loop moves them to last.bpk and the best into place.
            write_module(&self.model.valid(), &run.file(BEST_FILE))?;
            return Ok((epochs_done(epochs), format!("best validation accuracy {:.2} %", 100.0 * self.best)));
        }
        Ok((epochs_done(epochs), format!("best validation accuracy {:.2} %, its weights model.bpk", 100.0 * self.best)))
    }
}

/// A trained classifier run.
pub fn load(run_dir: &Path, device: &Device) -> Result<(RunDir, AttentionRecipe, WordTokenizer, TextClassifier)> {
    let (run, _) = RunDir::open(run_dir, AttentionRecipe::NAME)?;
    let recipe: AttentionRecipe = run.read_recipe()?;
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
/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Area under the ROC curve of the class against the rest (old evaluations: absent).
    #[serde(default)]
    pub auroc: Option<f64>,
    /// Test chunks of the class.
    pub support: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifyEval {
    /// The transformer's precision, recall and F1 per class on the test chunks, and their mean.
    #[serde(default)]
    pub per_class: Vec<ClassScores>,
    #[serde(default)]
    pub macro_f1: f64,
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
    let test = scores(&model, &data, &data.test, device)?;
    let mut methods = vec![MethodAccuracy {
        method: "transformer + attention pooling".into(),
        test_accuracy: test.accuracy,
        valid_accuracy: accuracy(&model, &data, &data.valid, device)?,
    }];
    let per_class = (0..data.labels.len())
        .map(|c| {
            let (precision, recall, f1, support) = test.class(c);
            let auroc = Some(test.auroc[c]).filter(|a| a.is_finite());
            ClassScores { label: data.labels[c].clone(), precision, recall, f1, auroc, support }
        })
        .collect();
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
    let share =
        |chunks: &[Chunk]| chunks.iter().filter(|c| c.label == majority).count() as f64 / chunks.len().max(1) as f64;
    methods.push(MethodAccuracy {
        method: format!("majority class ({})", data.labels[majority]),
        test_accuracy: share(&data.test),
        valid_accuracy: share(&data.valid),
    });
    let report = ClassifyEval {
        per_class,
        macro_f1: test.macro_f1(),
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
        let mut ids: Vec<usize> =
            data.tokenizer.encode(&chunk.words.join(" ")).into_iter().map(|i| i as usize).filter(|&i| i >= 2).collect();
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

/// One text as the classifier reads it: the classes and every word it read with the weight the
/// pooling query gave it, in the text's order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TextAnswer {
    /// `(label, probability)`, most likely first.
    pub probabilities: Vec<(String, f64)>,
    /// `(word, attention weight)` of the words read (a word outside the vocabulary is marked
    /// `(unknown)`); the weights sum to 1.
    pub attended: Vec<(String, f64)>,
    /// Words in the text; the model reads at most its `max_len` first.
    pub words: usize,
}

/// Classifies one text with a loaded classifier.
pub fn classify_text(
    model: &TextClassifier,
    labels: &[String],
    vocab: &WordTokenizer,
    text: &str,
    device: &Device,
) -> Result<TextAnswer> {
    let words = zoo_data::text::words(text);
    if words.is_empty() {
        let shown: String = text.chars().take(40).collect();
        return Err(ZooError::usage(format!("\"{shown}\": no words to classify; give some text")));
    }
    let mut ids = vocab.encode(text);
    ids.truncate(model.max_len());
    let (x, padding) = batch(std::slice::from_ref(&ids), device);
    let (logits, weights) = model.forward(x, padding);
    let probs = crate::read::floats(softmax(logits, 1))?;
    let weights = crate::read::floats(weights)?;
    let mut probabilities: Vec<(String, f64)> =
        labels.iter().cloned().zip(probs.iter().map(|&p| f64::from(p))).collect();
    probabilities.sort_by(|a, b| b.1.total_cmp(&a.1));
    let attended = words
        .iter()
        .take(ids.len())
        .zip(&weights)
        .zip(&ids)
        .map(|((w, &a), &id)| {
            (if id == WordTokenizer::UNKNOWN { format!("{w} (unknown)") } else { w.clone() }, f64::from(a))
        })
        .collect();
    Ok(TextAnswer { probabilities, attended, words: words.len() })
}

pub fn predict(run_dir: &Path, texts: &[String], top: usize, device: &Device) -> Result<Vec<TextPrediction>> {
    let (_, recipe, vocab, model) = load(run_dir, device)?;
    let mut out = Vec::new();
    for text in texts {
        let answer = classify_text(&model, &recipe.classify.labels, &vocab, text, device)?;
        let used_words = answer.attended.len();
        let mut tokens = answer.attended;
        tokens.sort_by(|a, b| b.1.total_cmp(&a.1));
        tokens.truncate(top);
        out.push(TextPrediction {
            words: answer.words,
            used_words,
            probabilities: answer.probabilities,
            top_tokens: tokens,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod score_tests {
    use super::{Scores, auroc};

    #[test]
    fn precision_recall_and_f1_by_hand() {
        // 10 of class 0 (8 right, 2 called 1); 5 of class 1 (4 right, 1 called 0).
        let scores = Scores { accuracy: 0.8, loss: 0.0, confusion: vec![vec![8, 2], vec![1, 4]], auroc: Vec::new() };
        let (p0, r0, f0, s0) = scores.class(0);
        assert!((p0 - 8.0 / 9.0).abs() < 1e-12 && (r0 - 0.8).abs() < 1e-12 && s0 == 10);
        assert!((f0 - 2.0 * p0 * r0 / (p0 + r0)).abs() < 1e-12);
        let (p1, r1, _, s1) = scores.class(1);
        assert!((p1 - 4.0 / 6.0).abs() < 1e-12 && (r1 - 0.8).abs() < 1e-12 && s1 == 5);
        let expected = (scores.class(0).2 + scores.class(1).2) / 2.0;
        assert!((scores.macro_f1() - expected).abs() < 1e-12);
    }

    #[test]
    fn auroc_of_known_rankings() {
        // Two positives at 0.35 and 0.8, two negatives at 0.1 and 0.4: 3 of 4 pairs ordered.
        assert!((auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]) - 0.75).abs() < 1e-12);
        assert_eq!(auroc(&[0.1, 0.2, 0.9], &[false, false, true]), 1.0);
        assert_eq!(auroc(&[0.9, 0.2, 0.1], &[false, false, true]), 0.0);
        // Ties count a half.
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), 0.5);
        assert!(auroc(&[0.5, 0.6], &[true, true]).is_nan());
        // A class never predicted has precision 0, not NaN.
        let never = Scores { accuracy: 0.5, loss: 0.0, confusion: vec![vec![1, 0], vec![1, 0]], auroc: Vec::new() };
        assert_eq!(never.class(1).0, 0.0);
    }
}
