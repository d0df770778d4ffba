//! `zoo cv <classifier> --folds K`: k-fold cross-validation (item 2 of the source document).
//! The training set is dealt into K folds that keep its class proportions; fold k trains on
//! the other K-1 and validates on it, as a run folder of its own (`fold-k/`) under the
//! cross-validation's folder, which keeps the recipe (`config.json`) and the results
//! (`cv.json`, rewritten after each fold, so `--resume` continues where it stopped).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zoo_data::{ImageSet, Split};

use crate::classifier::ClassifierRecipe;
use crate::error::{Result, ResultExt, ZooError};
use crate::image::TrainRequest;
use crate::image_training::{ImageRecipe, ImageTraining};
use crate::loader::shuffle;
use crate::metrics_log::read_metrics;
use crate::recipes::recipe_or_default;
use crate::run::{RunDir, timestamp_iso};
use crate::source::DataSource;
use crate::trainer::{self, Outcome, Progress};

/// What `zoo cv` was asked: `train`'s request and the number of folds.
pub struct CvRequest {
    pub train: TrainRequest,
    pub folds: usize,
}

/// `cv.json`: the settings that fix the folds, and each finished fold's validation figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CvRecord {
    pub model: String,
    /// The data, as `run.json` records it.
    pub data: String,
    pub device: String,
    pub folds: usize,
    /// The recipe's seed: it deals the folds and seeds every fold's run.
    pub seed: u64,
    /// Training images dealt into the folds.
    pub images: usize,
    pub created: String,
    pub results: Vec<FoldResult>,
    /// Mean and sample standard deviation over the folds, once every fold is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<CvSummary>,
}

/// One fold's figures: those of the epoch whose weights are its model (the best one under
/// early stopping, else the last).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FoldResult {
    pub fold: usize,
    /// The fold's run folder, relative to the cross-validation's.
    pub run: String,
    pub train_images: usize,
    pub valid_images: usize,
    pub epoch: usize,
    pub seconds: f64,
    pub train_accuracy: f64,
    pub valid_accuracy: f64,
    pub valid_loss: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CvSummary {
    pub valid_accuracy_mean: f64,
    pub valid_accuracy_std: f64,
    pub valid_loss_mean: f64,
    pub valid_loss_std: f64,
}

const RECORD: &str = "cv.json";

/// Deals `labels`' indices into `k` folds: each class shuffled by `seed` and dealt in turn, so
/// every fold holds each class's share (to within one image) and the folds cover the set once.
pub fn stratified_folds(labels: &[u8], k: usize, seed: u64) -> Vec<Vec<u32>> {
    let classes = labels.iter().map(|&l| usize::from(l) + 1).max().unwrap_or(0);
    let mut by_class = vec![Vec::new(); classes];
    for (i, &label) in labels.iter().enumerate() {
        by_class[usize::from(label)].push(i as u32);
    }
    let mut folds = vec![Vec::new(); k];
    // Dealing continues from class to class so the folds' sizes differ by at most one.
    let mut next = 0;
    for (class, mut members) in by_class.into_iter().enumerate() {
        shuffle(&mut members, seed.wrapping_add(class as u64));
        for index in members {
            folds[next % k].push(index);
            next += 1;
        }
    }
    for fold in &mut folds {
        fold.sort_unstable();
    }
    folds
}

/// Runs (or with `--resume`, continues) a cross-validation of classifier `R`.
pub fn cross_validate<R: ClassifierRecipe>(request: &CvRequest) -> Result<CvRecord> {
    let train = &request.train;
    let (dir, recipe, mut record) = match &train.resume {
        Some(dir) => resume::<R>(train, dir)?,
        None => start::<R>(request)?,
    };
    let source = DataSource::from_record(&record.data)?;
    let set = Arc::new(training_images(&source, recipe.fit())?);
    let folds = stratified_folds(&set.labels, record.folds, record.seed);
    for (k, valid) in folds.iter().enumerate() {
        let fold = k + 1;
        if record.results.iter().any(|r| r.fold == fold) {
            continue;
        }
        let fold_dir = dir.join(format!("fold-{fold}"));
        let train_indices: Vec<u32> =
            folds.iter().enumerate().filter(|(j, _)| *j != k).flat_map(|(_, f)| f.iter().copied()).collect();
        println!(
            "zoo cv {}: fold {fold} of {}: {} training and {} validation images; run folder {}",
            R::NAME,
            record.folds,
            train_indices.len(),
            valid.len(),
            fold_dir.display()
        );
        let (run, resume_from) = fold_run(&recipe, &record, &fold_dir)?;
        let finished = run.file("model.bpk").is_file();
        if !finished {
            let mut trainer = recipe.trainer(&train.device);
            if resume_from.is_none() {
                recipe.initialise(&mut trainer, train)?;
            }
            let mut training = ImageTraining::with_split(
                R::NAME,
                recipe.fit().clone(),
                trainer,
                set.clone(),
                train_indices.clone(),
                valid.clone(),
            );
            let report = trainer::fit(&run, &mut training, resume_from)?;
            if report.outcome == Outcome::Stopped {
                println!("stopped in fold {fold}; continue with `zoo cv {} --resume {}`", R::NAME, dir.display());
                return Ok(record);
            }
        }
        let result = fold_result(&run, fold, train_indices.len(), valid.len())?;
        record.results.push(result);
        record.results.sort_by_key(|r| r.fold);
        if record.results.len() == record.folds {
            record.summary = Some(summarise(&record.results));
        }
        write_record(&dir, &record)?;
        let r = record.results.iter().find(|r| r.fold == fold).expect("just added");
        println!(
            "fold {fold}: valid accuracy {:.2} %, valid loss {:.4} (epoch {}; train accuracy {:.2} %)",
            r.valid_accuracy, r.valid_loss, r.epoch, r.train_accuracy
        );
    }
    println!("{}", table(&record));
    println!("wrote {}", dir.join(RECORD).display());
    Ok(record)
}

/// A new cross-validation: its folder with the recipe and an empty `cv.json`.
fn start<R: ClassifierRecipe>(request: &CvRequest) -> Result<(std::path::PathBuf, R, CvRecord)> {
    let train = &request.train;
    let mut recipe: R = recipe_or_default(train.config_file.as_deref(), &train.sets)?;
    train.overrides.apply(recipe.fit_mut());
    ImageRecipe::apply_request(&mut recipe, train)?;
    recipe.fit().validate().map_err(ZooError::usage)?;
    ImageRecipe::validate(&recipe).map_err(ZooError::usage)?;
    let source = DataSource::from_arg(train.data.as_deref())?;
    let set = training_images(&source, recipe.fit())?;
    recipe.adapt_to(&set);
    let folds = request.folds;
    if folds < 2 || folds > set.len() {
        return Err(ZooError::usage(format!(
            "--folds {folds}: cross-validation needs between 2 and {} folds (the training images)",
            set.len()
        )));
    }
    let run = RunDir::start(train.run_dir.as_deref(), &recipe, &source.to_record(), &train.device_name)?;
    let record = CvRecord {
        model: R::NAME.to_string(),
        data: source.to_record(),
        device: train.device_name.clone(),
        folds,
        seed: recipe.fit().seed,
        images: set.len(),
        created: timestamp_iso(),
        results: Vec::new(),
        summary: None,
    };
    write_record(run.path(), &record)?;
    println!(
        "zoo cv {}: {folds} folds of {} from {}; folder {}",
        R::NAME,
        recipe.fit().describe_images(source.load(Split::Train)?.len()),
        source.describe(),
        run.path().display()
    );
    Ok((run.path().to_path_buf(), recipe, record))
}

/// An interrupted cross-validation, from its folder: the recipe and the folds done.
fn resume<R: ClassifierRecipe>(train: &TrainRequest, dir: &Path) -> Result<(std::path::PathBuf, R, CvRecord)> {
    let o = &train.overrides;
    if o.epochs.is_some()
        || o.batch_size.is_some()
        || o.learning_rate.is_some()
        || o.seed.is_some()
        || o.limit.is_some()
        || train.config_file.is_some()
        || !train.sets.is_empty()
        || train.data.is_some()
        || train.run_dir.is_some()
    {
        return Err(ZooError::usage(
            "--resume continues a cross-validation with its own recipe and data; only --device may be given with it",
        ));
    }
    let (run, _) = RunDir::open_to_train(dir, R::NAME)?;
    if !run.file(RECORD).is_file() {
        return Err(ZooError::usage(format!(
            "{}: not a cross-validation folder (no {RECORD}); a run of `zoo train` continues with `zoo train {} --resume`",
            dir.display(),
            R::NAME
        )));
    }
    let record: CvRecord = run.read_json(RECORD)?;
    let recipe: R = run.read_recipe()?;
    if record.results.len() == record.folds {
        return Err(ZooError::usage(format!(
            "{}: all {} folds are done; see its {RECORD}",
            dir.display(),
            record.folds
        )));
    }
    println!(
        "zoo cv {} --resume: continuing {} after {} of {} folds",
        R::NAME,
        dir.display(),
        record.results.len(),
        record.folds
    );
    Ok((dir.to_path_buf(), recipe, record))
}

/// The training images the folds are dealt from, as the recipe selects them.
fn training_images(source: &DataSource, fit: &crate::fit::FitConfig) -> Result<ImageSet> {
    fit.select_training(source.load(Split::Train)?).map_err(ZooError::usage)
}

/// The run folder of a fold: a new one, or the one an interrupted run left (with the epoch
/// of its last complete checkpoint).
fn fold_run<R: ClassifierRecipe>(recipe: &R, record: &CvRecord, dir: &Path) -> Result<(RunDir, Option<usize>)> {
    if dir.join("run.json").is_file() {
        let (run, _) = RunDir::open_to_train(dir, R::NAME)?;
        let latest = trainer::latest_checkpoint::<ImageTraining<<R as ImageRecipe>::Trainer>>(&run);
        return Ok((run, latest));
    }
    Ok((RunDir::start(Some(dir), recipe, &record.data, &record.device)?, None))
}

/// A finished fold's figures from its `metrics.csv`, at the epoch its model comes from.
fn fold_result(run: &RunDir, fold: usize, train_images: usize, valid_images: usize) -> Result<FoldResult> {
    let checkpoints = crate::checkpoint::EpochCheckpoints::new(&run.checkpoint_dir());
    let last = checkpoints.latest(&["model.bpk"]).ok_or_else(|| {
        ZooError::runtime(format!("{}: the fold has no checkpoint; delete the folder and resume", run.path().display()))
    })?;
    let progress: Progress = checkpoints.read_progress(last)?;
    let epoch = progress.early_stopping_best_epoch.unwrap_or(last);
    let csv = run.file("metrics.csv");
    let rows = read_metrics(&csv).with_path(&csv)?;
    let value = |split: &str, metric: &str| {
        rows.iter()
            .rev()
            .find(|r| r.epoch == epoch && r.split == split && r.metric == metric)
            .map(|r| r.value)
            .ok_or_else(|| ZooError::runtime(format!("{}: no {split} {metric} for epoch {epoch}", csv.display())))
    };
    Ok(FoldResult {
        fold,
        run: format!("fold-{fold}"),
        train_images,
        valid_images,
        epoch,
        seconds: progress.seconds,
        train_accuracy: value("train", "Accuracy")?,
        valid_accuracy: value("valid", "Accuracy")?,
        valid_loss: value("valid", "Loss")?,
    })
}

/// The cross-validation folder that `run` is a fold of, if it is one.
pub fn enclosing_cross_validation(run: &RunDir) -> Option<std::path::PathBuf> {
    let name = run.path().file_name()?.to_str()?;
    let parent = run.path().parent()?;
    (name.starts_with("fold-") && parent.join(RECORD).is_file()).then(|| parent.to_path_buf())
}

/// Mean and sample standard deviation (n - 1) of a figure over the folds.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n.max(1.0);
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

fn summarise(results: &[FoldResult]) -> CvSummary {
    let (valid_accuracy_mean, valid_accuracy_std) =
        mean_std(&results.iter().map(|r| r.valid_accuracy).collect::<Vec<_>>());
    let (valid_loss_mean, valid_loss_std) = mean_std(&results.iter().map(|r| r.valid_loss).collect::<Vec<_>>());
    CvSummary { valid_accuracy_mean, valid_accuracy_std, valid_loss_mean, valid_loss_std }
}

fn write_record(dir: &Path, record: &CvRecord) -> Result<()> {
    RunDir::open(dir, &record.model)?.0.write_json(RECORD, record)
}

/// The folds so far as a table, with the mean and spread once all are done.
pub fn table(record: &CvRecord) -> String {
    let mut lines = vec![format!(
        "{:>4} {:>7} {:>7} {:>6} {:>11} {:>11} {:>10} {:>9}",
        "fold", "train", "valid", "epoch", "train acc", "valid acc", "valid loss", "time"
    )];
    for r in &record.results {
        lines.push(format!(
            "{:>4} {:>7} {:>7} {:>6} {:>10.2}% {:>10.2}% {:>10.4} {:>9}",
            r.fold,
            r.train_images,
            r.valid_images,
            r.epoch,
            r.train_accuracy,
            r.valid_accuracy,
            r.valid_loss,
            crate::render::format_duration(r.seconds)
        ));
    }
    if let Some(s) = &record.summary {
        lines.push(format!(
            "mean over {} folds: valid accuracy {:.2} ± {:.2} %, valid loss {:.4} ± {:.4}",
            record.folds, s.valid_accuracy_mean, s.valid_accuracy_std, s.valid_loss_mean, s.valid_loss_std
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_disjoint_cover_the_set_and_keep_class_shares() {
        // 3 classes of 30, 60 and 90 images.
        let labels: Vec<u8> = (0..180)
            .map(|i| {
                if i < 30 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let folds = stratified_folds(&labels, 3, 7);
        let mut all: Vec<u32> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..180).collect::<Vec<_>>(), "every image in exactly one fold");
        for fold in &folds {
            let count = |c: u8| fold.iter().filter(|&&i| labels[i as usize] == c).count();
            assert_eq!((count(0), count(1), count(2)), (10, 20, 30));
        }
        assert_eq!(stratified_folds(&labels, 3, 7), folds, "the seed fixes the folds");
        assert_ne!(stratified_folds(&labels, 3, 8), folds);
    }

    #[test]
    fn mean_and_sample_spread() {
        let (mean, std) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((mean - 2.5).abs() < 1e-12 && (std - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
