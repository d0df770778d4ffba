//! The runs a server knows: found under `--runs` folders and given with `--run`, each with its
//! `run.json`, its status and headline figure, and (for a model that answers requests) a worker
//! holding the loaded model.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use zoo_train::inference::Capability;
use zoo_train::run::{RunDir, RunInfo};
use zoo_train::{Result, ZooError};

use super::Settings;
use super::worker::Worker;
use crate::registry;

/// One run as the server lists it.
pub struct ServedRun {
    /// The name in URLs: the folder's path under its `--runs` folder, `/` made `~`.
    pub id: String,
    pub path: PathBuf,
    pub info: Option<RunInfo>,
    /// Why the run is listed but cannot answer (no weights yet, a damaged file, ...).
    pub problem: Option<String>,
    pub worker: Option<Worker>,
    pub capabilities: Vec<Capability>,
    /// Size of the latent plane (VAE), 0 otherwise.
    pub latent: usize,
    /// Side of the canvas a `locate` picture is scaled to, 0 otherwise.
    pub canvas_side: usize,
    /// Whether `sample` takes a digit (a class-conditional GAN).
    pub conditional: bool,
}

/// A run's line in the list.
#[derive(Serialize)]
pub struct RunSummary {
    pub id: String,
    pub path: String,
    pub model: Option<String>,
    pub created: Option<String>,
    pub device: Option<String>,
    pub data: Option<String>,
    /// `finished` (final weights written), `training` (a zoo process holds its lock), `stopped`
    /// (neither: a run that was interrupted) or `damaged` (run.json unreadable).
    pub status: &'static str,
    pub training_process: Option<u32>,
    /// Its main figure: from `eval.json` when the run was evaluated, else the last epoch's
    /// validation metric.
    pub headline: Option<Headline>,
    pub capabilities: Vec<Capability>,
    pub latent: usize,
    pub canvas_side: usize,
    pub conditional: bool,
    pub problem: Option<String>,
}

#[derive(Serialize)]
pub struct Headline {
    pub name: String,
    pub value: f64,
    /// `eval.json` or `metrics.csv` (epoch N).
    pub source: String,
}

pub struct Catalog {
    pub runs: Vec<ServedRun>,
}

/// Run folders under `root`: itself when it is a run, else its subfolders with a run.json, one
/// or two levels down (`runs/<model>/<time>/`).
fn find_runs(root: &Path) -> Vec<PathBuf> {
    if root.join("run.json").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut found = Vec::new();
    let children = |dir: &Path| -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    };
    for child in children(root) {
        if child.join("run.json").is_file() {
            found.push(child);
        } else {
            found.extend(children(&child).into_iter().filter(|g| g.join("run.json").is_file()));
        }
    }
    found
}

/// A URL-safe name for `path` under `root`.
fn run_id(path: &Path, root: Option<&Path>, taken: &mut HashSet<String>) -> String {
    let relative = root.and_then(|r| path.strip_prefix(r).ok()).filter(|p| !p.as_os_str().is_empty());
    let name = relative.unwrap_or_else(|| Path::new(path.file_name().unwrap_or(path.as_os_str())));
    let base: String = name
        .to_string_lossy()
        .chars()
        .map(|c| match c {
            '/' | '\\' => '~',
            c if c.is_ascii_alphanumeric() || "-_.".contains(c) => c,
            _ => '_',
        })
        .collect();
    let base = if base.is_empty() || base.starts_with('.') { format!("run{base}") } else { base };
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

impl Catalog {
    /// Finds the runs, starts a worker for each that answers requests and waits until every
    /// worker has loaded its model (or said why it cannot).
    pub fn open(
        folders: &[PathBuf],
        runs: &[PathBuf],
        device: &burn::prelude::Device,
        settings: &Settings,
    ) -> Result<Self> {
        let mut listed: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        for folder in folders {
            if !folder.is_dir() {
                return Err(ZooError::usage(format!(
                    "--runs {}: no such folder; give the folder `zoo train` writes runs into (runs/ by default) or --run RUN",
                    folder.display()
                )));
            }
            listed.extend(find_runs(folder).into_iter().map(|p| (p, Some(folder.clone()))));
        }
        for run in runs {
            if !run.join("run.json").is_file() {
                return Err(ZooError::usage(format!(
                    "--run {}: not a zoo run folder (no run.json); give a folder made by `zoo train`",
                    run.display()
                )));
            }
            listed.push((run.clone(), None));
        }
        let mut seen = HashSet::new();
        listed.retain(|(path, _)| seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())));

        let mut taken = HashSet::new();
        let mut runs = Vec::new();
        // Workers report once their model is loaded; they all load side by side.
        let mut pending = Vec::new();
        for (path, root) in listed {
            let mut run = ServedRun {
                id: run_id(&path, root.as_deref(), &mut taken),
                path: path.clone(),
                info: None,
                problem: None,
                worker: None,
                capabilities: Vec::new(),
                latent: 0,
                canvas_side: 0,
                conditional: false,
            };
            match RunDir::read_info(&path) {
                Err(e) => run.problem = Some(e.to_string()),
                Ok(info) => {
                    match registry::models().into_iter().find(|m| m.name == info.model) {
                        None => run.problem = Some(format!("model `{}` is not one this zoo knows", info.model)),
                        Some(entry) => {
                            if let Some(load) = entry.serve {
                                pending.push((runs.len(), Worker::start(&path, load, device, settings)));
                            }
                        }
                    }
                    run.info = Some(info);
                }
            }
            runs.push(run);
        }
        for (index, starting) in pending {
            let run: &mut ServedRun = &mut runs[index];
            match starting.ready() {
                Ok((worker, loaded)) => {
                    run.capabilities = loaded.capabilities;
                    run.latent = loaded.latent;
                    run.canvas_side = loaded.canvas_side;
                    run.conditional = loaded.conditional;
                    run.worker = Some(worker);
                }
                Err(problem) => run.problem = Some(problem),
            }
        }
        Ok(Self { runs })
    }

    pub fn find(&self, id: &str) -> Option<&ServedRun> {
        self.runs.iter().find(|r| r.id == id)
    }
}

impl ServedRun {
    pub fn summary(&self) -> RunSummary {
        let training = zoo_train::run::training_process(&self.path);
        let status = match (&self.info, training) {
            (None, _) => "damaged",
            (Some(_), Some(_)) => "training",
            (Some(_), None) if self.has_final_weights() => "finished",
            _ => "stopped",
        };
        RunSummary {
            id: self.id.clone(),
            path: self.path.display().to_string(),
            model: self.info.as_ref().map(|i| i.model.clone()),
            created: self.info.as_ref().map(|i| i.created.clone()),
            device: self.info.as_ref().map(|i| i.device.clone()),
            data: self.info.as_ref().map(|i| i.data.clone()),
            status,
            training_process: training,
            headline: self.headline(),
            capabilities: self.capabilities.clone(),
            latent: self.latent,
            canvas_side: self.canvas_side,
            conditional: self.conditional,
            problem: self.problem.clone(),
        }
    }

    /// Whether the run wrote its final weights: a `.bpk` file at the top of the folder.
    fn has_final_weights(&self) -> bool {
        std::fs::read_dir(&self.path)
            .map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "bpk")))
            .unwrap_or(false)
    }

    fn headline(&self) -> Option<Headline> {
        if let Some(eval) = self.json("eval.json") {
            // The first figure of these that the evaluation has, in this order.
            const FIGURES: [&str; 9] = [
                "accuracy",
                "negative_elbo",
                "nats_per_char",
                "frechet_distance",
                "bce_per_pixel",
                "mean",
                "macro_f1",
                "mean_iou",
                "frechet_floor",
            ];
            for name in FIGURES {
                if let Some(value) = eval.get(name).and_then(Value::as_f64) {
                    return Some(Headline { name: name.into(), value, source: "eval.json".into() });
                }
            }
        }
        let rows = zoo_train::metrics_log::read_metrics(&self.path.join("metrics.csv")).ok()?;
        let last = rows.iter().map(|r| r.epoch).max()?;
        let pick = |split: &str| rows.iter().find(|r| r.epoch == last && r.split == split);
        let row = rows
            .iter()
            .find(|r| r.epoch == last && r.split == "valid" && r.metric == "Accuracy")
            .or_else(|| pick("valid"))
            .or_else(|| pick("train"))?;
        Some(Headline {
            name: format!("{} {}", row.split, row.metric),
            value: row.value,
            source: format!("metrics.csv (epoch {last})"),
        })
    }

    /// A JSON file of the run folder, when it is there and parses.
    pub fn json(&self, name: &str) -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(self.path.join(name)).ok()?).ok()
    }

    /// The PNG pictures of the run (the folder and its subfolders but checkpoints), by their
    /// path inside it with `/` separators, sorted.
    pub fn pictures(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![(self.path.clone(), String::new(), 0)];
        while let Some((dir, prefix, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() && depth < 2 && name != "checkpoint" {
                    stack.push((path, format!("{prefix}{name}/"), depth + 1));
                } else if path.is_file() && name.ends_with(".png") {
                    found.push(format!("{prefix}{name}"));
                }
            }
        }
        found.sort();
        found
    }
}
