//! `qlearning`: tabular Q-learning on the 10-state chain, item 4 of the source document with
//! the article's learning rate (0.1), discount (0.9) and epsilon schedule (1.0, x0.995 per
//! episode, floor 0.01), and its two bugs fixed: the chain is reset to a random interior state
//! for every episode, and a terminal transition's target is its reward alone (the article
//! passed the previous step's `done` to the update).

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zoo_data::SplitMix64;
use zoo_data::env::chain::{ACTIONS, STATES};
use zoo_data::env::{Chain, Environment};

use super::{ReturnStats, RlTrainRequest, refuse};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt, ZooError};
use crate::plot::episode_returns;
use crate::recipes::{Recipe, recipe_or_default};
use crate::run::RunDir;
use crate::trainer::{self, Reporter, Training, state_field};

pub const ENVIRONMENT: &str = "chain-10";

/// Recipe of `qlearning` (item 4): what `config.json` holds.
#[derive(Config, Debug)]
pub struct QLearningRecipe {
    /// Episodes of the whole run.
    #[config(default = 1000)]
    pub episodes: usize,
    /// Stop after this many environment steps in all, even with episodes left (0: no limit).
    #[config(default = 0)]
    pub steps: usize,
    /// Step size of the table update.
    #[config(default = 0.1)]
    pub learning_rate: f64,
    /// Discount factor.
    #[config(default = 0.9)]
    pub gamma: f64,
    /// Exploration rate of the first episode.
    #[config(default = 1.0)]
    pub epsilon_start: f64,
    /// Factor applied to epsilon after every episode.
    #[config(default = 0.995)]
    pub epsilon_decay: f64,
    /// Floor of epsilon.
    #[config(default = 0.01)]
    pub epsilon_min: f64,
    /// Episodes are cut after this many steps (a good policy never reaches an end).
    #[config(default = 100)]
    pub max_steps: usize,
    /// Episodes per epoch of the dashboard.
    #[config(default = 100)]
    pub episodes_per_epoch: usize,
    /// Seeds the starts and the exploration.
    #[config(default = 1)]
    pub seed: u64,
}

impl Recipe for QLearningRecipe {
    const NAME: &'static str = "qlearning";

    fn default_recipe() -> Self {
        Self::new()
    }
}

/// `q_table.json`: the learned table, its greedy policy and how it compares with the optimum.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QTableReport {
    /// `q[state] = [Q(state, left), Q(state, right)]`.
    pub q: Vec<[f64; ACTIONS]>,
    /// Optimal values by value iteration, for comparison.
    pub optimal_q: Vec<[f64; ACTIONS]>,
    /// Greedy action per state: `left`, `right`, or `end` for the two terminal states.
    pub policy: Vec<String>,
    /// Whether the greedy action is optimal, per interior state.
    pub optimal: Vec<bool>,
    pub episodes: usize,
    pub steps: usize,
    pub returns: Vec<f64>,
}

/// The tabular learner.
#[derive(Clone, Debug)]
pub struct QLearner {
    pub q: Vec<[f64; ACTIONS]>,
    learning_rate: f64,
    gamma: f64,
}

impl QLearner {
    pub fn new(learning_rate: f64, gamma: f64) -> Self {
        Self { q: vec![[0.0; ACTIONS]; STATES], learning_rate, gamma }
    }

    /// The greedy action (left on ties).
    pub fn greedy(&self, state: usize) -> usize {
        usize::from(self.q[state][1] > self.q[state][0])
    }

    /// Q(s,a) += lr * (target - Q(s,a)), target = r for a terminal s', else r + gamma max Q(s').
    pub fn update(&mut self, state: usize, action: usize, reward: f64, next: usize, terminal: bool) {
        let future = if terminal { 0.0 } else { self.q[next][0].max(self.q[next][1]) };
        let target = reward + self.gamma * future;
        self.q[state][action] += self.learning_rate * (target - self.q[state][action]);
    }

    /// Whether each interior state's greedy action reaches the optimal value (within `tol`).
    pub fn optimal_states(&self, tol: f64) -> Vec<bool> {
        let best = Chain::optimal_q(self.gamma);
        (0..STATES)
            .filter(|&s| !Chain::is_terminal(s))
            .map(|s| {
                let optimum = best[s][0].max(best[s][1]);
                best[s][self.greedy(s)] >= optimum - tol
            })
            .collect()
    }
}

/// What a finished training reports.
#[derive(Clone, Debug)]
pub struct QLearningReport {
    pub learner: QLearner,
    pub episodes: usize,
    pub steps: usize,
}

const METRICS: [MetricSpec; 3] =
    [MetricSpec::higher("Return"), MetricSpec::higher("Episode Length"), MetricSpec::lower("Exploration Rate")];

/// `zoo train qlearning`: a new run, or `--resume` of one (`--episodes` may extend it).
pub fn train(request: &RlTrainRequest) -> Result<QLearningReport> {
    if request.batch_size.is_some() {
        return Err(refuse("--batch-size", "qlearning", "it updates its table after every step"));
    }
    let (run, mut training, start) = match &request.resume {
        Some(dir) => {
            let (run, _) = RunDir::open_to_train(dir, QLearningRecipe::NAME)?;
            if request.config_file.is_some()
                || !request.sets.is_empty()
                || request.seed.is_some()
                || request.learning_rate.is_some()
                || request.steps.is_some()
                || request.run_dir.is_some()
            {
                return Err(ZooError::usage(
                    "--resume continues a run with its own recipe; only --episodes may be given with it",
                ));
            }
            let mut recipe: QLearningRecipe = run.read_recipe()?;
            if let Some(v) = request.episodes {
                recipe.episodes = v;
            }
            let Some(epoch) = trainer::latest_checkpoint::<QLearningTraining>(&run) else {
                return Err(ZooError::usage(format!(
                    "{}: no usable checkpoint: the run stopped before its first epoch ended, or its checkpoints are damaged (said above); start a new run",
                    dir.display()
                )));
            };
            run.write_json("config.json", &recipe)?;
            (run, QLearningTraining::new(recipe), Some(epoch))
        }
        None => {
            let mut recipe: QLearningRecipe = recipe_or_default(request.config_file.as_deref(), &request.sets)?;
            if let Some(v) = request.episodes {
                recipe.episodes = v;
            }
            if let Some(v) = request.steps {
                recipe.steps = v;
            }
            if let Some(v) = request.seed {
                recipe.seed = v;
            }
            if let Some(v) = request.learning_rate {
                recipe.learning_rate = v;
            }
            if recipe.episodes == 0 || recipe.max_steps == 0 || recipe.episodes_per_epoch == 0 {
                return Err(ZooError::usage(
                    "qlearning recipe: episodes, max_steps and episodes_per_epoch must be positive",
                ));
            }
            let run = RunDir::start(request.run_dir.as_deref(), &recipe, ENVIRONMENT, &request.device_name)?;
            println!(
                "zoo train qlearning: {} episodes on the 10-state chain, seed {}; run folder {}",
                recipe.episodes,
                recipe.seed,
                run.path().display()
            );
            (run, QLearningTraining::new(recipe), None)
        }
    };
    if training.done() {
        return Err(ZooError::usage(format!(
            "{}: all {} episodes are done; pass --episodes N with N > {} to train further",
            run.path().display(),
            training.recipe.episodes,
            training.returns.len()
        )));
    }
    trainer::fit(&run, &mut training, start)?;
    print!("{}", table_text(&training.learner));
    let optimal = training.learner.optimal_states(1e-6);
    println!(
        "greedy policy optimal from {} of {} interior states",
        optimal.iter().filter(|o| **o).count(),
        optimal.len()
    );
    Ok(training.report())
}

/// Runs Q-learning to its end without a run folder (no dashboard, no files).
pub fn learn(recipe: &QLearningRecipe) -> QLearningReport {
    let mut training = QLearningTraining::new(recipe.clone());
    while !training.done() {
        training.episode();
    }
    training.report()
}

/// Q-learning in training: one epoch is `episodes_per_epoch` episodes from random interior
/// starts; no validation split (`zoo eval` plays the greedy policy).
pub struct QLearningTraining {
    recipe: QLearningRecipe,
    learner: QLearner,
    /// Exploration; the starts are the environment's.
    rng: SplitMix64,
    env: Chain,
    epsilon: f64,
    steps: usize,
    /// Every episode's return so far.
    returns: Vec<f64>,
}

impl QLearningTraining {
    pub fn new(recipe: QLearningRecipe) -> Self {
        Self {
            rng: SplitMix64::new(recipe.seed ^ 0x0_51EED),
            env: Chain::new(recipe.seed, recipe.max_steps),
            learner: QLearner::new(recipe.learning_rate, recipe.gamma),
            epsilon: recipe.epsilon_start,
            steps: 0,
            returns: Vec::new(),
            recipe,
        }
    }

    /// Whether the run has its episodes, or its step limit.
    fn done(&self) -> bool {
        self.returns.len() >= self.recipe.episodes || (self.recipe.steps > 0 && self.steps >= self.recipe.steps)
    }

    /// One episode, epsilon-greedy, updating the table after every step; returns its return
    /// and length, and the epsilon it explored with.
    fn episode(&mut self) -> (f64, usize, f64) {
        self.env.reset();
        let (mut total, mut length) = (0.0, 0usize);
        loop {
            let state = self.env.state();
            let action =
                if self.rng.next_f64() < self.epsilon { self.rng.below(ACTIONS) } else { self.learner.greedy(state) };
            let step = self.env.step(action);
            self.learner.update(state, action, step.reward, step.next_state, step.done);
            total += step.reward;
            length += 1;
            self.steps += 1;
            if step.done || step.truncated || (self.recipe.steps > 0 && self.steps >= self.recipe.steps) {
                break;
            }
        }
        self.returns.push(total);
        let epsilon = self.epsilon;
        self.epsilon = (self.epsilon * self.recipe.epsilon_decay).max(self.recipe.epsilon_min);
        (total, length, epsilon)
    }

    fn report(&self) -> QLearningReport {
        QLearningReport { learner: self.learner.clone(), episodes: self.returns.len(), steps: self.steps }
    }
}

impl Training for QLearningTraining {
    const PARTS: &'static [&'static str] = &["q_table.json"];
    const UNIT: &'static str = "episodes";

    fn name(&self) -> &str {
        QLearningRecipe::NAME
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.to_vec()
    }
    fn curves(&self) -> Vec<&'static str> {
        vec!["Return", "Episode Length"]
    }
    fn title(&self, _run: &RunDir) -> String {
        "qlearning on the 10-state chain".into()
    }
    fn epochs(&self) -> usize {
        self.recipe.episodes.div_ceil(self.recipe.episodes_per_epoch)
    }
    fn save(&self) -> Result<Vec<Vec<u8>>> {
        serde_json::to_vec(&self.learner.q).map(|bytes| vec![bytes]).map_err(|e| ZooError::runtime(e.to_string()))
    }
    fn load(&mut self, parts: Vec<Vec<u8>>, epoch: usize) -> Result<()> {
        let [bytes]: [Vec<u8>; 1] =
            parts.try_into().map_err(|_| ZooError::runtime("a qlearning checkpoint has one record, its table"))?;
        self.learner.q = serde_json::from_slice(&bytes).map_err(|e| {
            ZooError::runtime(format!("checkpoint/q_table-{epoch}.json: damaged ({e}); start a new run"))
        })?;
        Ok(())
    }
    fn state(&self) -> Map<String, Value> {
        let mut state = Map::new();
        state.insert("rng".into(), self.rng.state.into());
        state.insert("env_rng".into(), self.env.rng().state.into());
        state.insert("epsilon".into(), self.epsilon.into());
        state.insert("steps".into(), self.steps.into());
        state.insert("returns".into(), self.returns.clone().into());
        state
    }
    fn restore(&mut self, state: &Map<String, Value>, _epoch: usize) -> Result<()> {
        self.rng = SplitMix64 { state: state_field(state, "rng", QLearningRecipe::NAME)? };
        self.env.set_rng(SplitMix64 { state: state_field(state, "env_rng", QLearningRecipe::NAME)? });
        self.epsilon = state_field(state, "epsilon", QLearningRecipe::NAME)?;
        self.steps = state_field(state, "steps", QLearningRecipe::NAME)?;
        self.returns = state_field(state, "returns", QLearningRecipe::NAME)?;
        Ok(())
    }
    fn train_items(&self, epoch: usize) -> usize {
        self.recipe.episodes.min(epoch * self.recipe.episodes_per_epoch) - self.returns.len().min(self.recipe.episodes)
    }
    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> Result<()> {
        let last = self.recipe.episodes.min(epoch * self.recipe.episodes_per_epoch);
        let mut done = 0;
        while self.returns.len() < last && !self.done() {
            let (total, length, epsilon) = self.episode();
            report.value("Return", total);
            report.value("Episode Length", length as f64);
            report.value("Exploration Rate", epsilon);
            done += 1;
            if !report.progress(done) {
                break;
            }
        }
        Ok(())
    }
    fn valid_items(&self) -> usize {
        0
    }
    fn validate(&mut self, _epoch: usize, _report: &mut Reporter) -> Result<()> {
        Ok(())
    }
    fn finished_early(&self) -> bool {
        self.done()
    }
    fn finish(&mut self, run: &RunDir, _epochs: usize) -> Result<(String, String)> {
        run.write_json("q_table.json", &table_report(&self.report(), self.returns.clone()))?;
        let picture = run.file("returns.png");
        episode_returns(&picture, "qlearning on the 10-state chain", &self.returns, 20).with_path(&picture)?;
        Ok((
            format!("{} episodes ({} steps)", self.returns.len(), self.steps),
            "table q_table.json, returns returns.png".into(),
        ))
    }
}

fn table_report(report: &QLearningReport, returns: Vec<f64>) -> QTableReport {
    let learner = &report.learner;
    QTableReport {
        q: learner.q.clone(),
        optimal_q: Chain::optimal_q(learner.gamma),
        policy: (0..STATES).map(|s| action_name(s, learner).to_string()).collect(),
        optimal: learner.optimal_states(1e-6),
        episodes: report.episodes,
        steps: report.steps,
        returns,
    }
}

fn action_name(state: usize, learner: &QLearner) -> &'static str {
    if Chain::is_terminal(state) {
        "end"
    } else if learner.greedy(state) == 1 {
        "right"
    } else {
        "left"
    }
}

/// The table as `zoo train` prints it, with the greedy policy and the optimal values.
pub fn table_text(learner: &QLearner) -> String {
    let best = Chain::optimal_q(learner.gamma);
    let mut out = String::from("state   Q(left)  Q(right)  greedy   optimal Q(left) Q(right)\n");
    for (s, [best_left, best_right]) in best.iter().enumerate().take(STATES) {
        if Chain::is_terminal(s) {
            out.push_str(&format!("{s:>5}   terminal\n"));
            continue;
        }
        let [l, r] = learner.q[s];
        let arrow = if learner.greedy(s) == 1 { "right ->" } else { "<- left" };
        out.push_str(&format!("{s:>5} {l:9.3} {r:9.3}  {arrow:<8} {best_left:9.3} {best_right:9.3}\n"));
    }
    let line: String = (0..STATES)
        .map(|s| {
            if Chain::is_terminal(s) {
                '#'
            } else if learner.greedy(s) == 1 {
                '>'
            } else {
                '<'
            }
        })
        .collect();
    out.push_str(&format!("policy  {line}   (# ends the episode)\n"));
    out
}

/// `zoo eval qlearning`: greedy episodes from random interior starts, and the optimality check.
pub fn eval(run_dir: &Path, episodes: usize, seed: u64) -> Result<(ReturnStats, QTableReport)> {
    if episodes == 0 {
        return Err(ZooError::usage("--episodes must be at least 1"));
    }
    let (run, _) = RunDir::open(run_dir, QLearningRecipe::NAME)?;
    let recipe: QLearningRecipe = run.read_recipe()?;
    let table: QTableReport = run.read_json("q_table.json")?;
    let learner = QLearner { q: table.q.clone(), learning_rate: recipe.learning_rate, gamma: recipe.gamma };
    let mut env = Chain::new(seed, recipe.max_steps);
    let returns = (0..episodes)
        .map(|_| {
            env.reset();
            let mut total = 0.0;
            loop {
                let step = env.step(learner.greedy(env.state()));
                total += step.reward;
                if step.done || step.truncated {
                    return total;
                }
            }
        })
        .collect();
    let stats = ReturnStats::new(QLearningRecipe::NAME, ENVIRONMENT, seed, returns);
    run.write_json("eval.json", &stats)?;
    Ok((stats, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_update_uses_the_reward_alone() {
        let mut learner = QLearner::new(0.5, 0.9);
        learner.q[0] = [100.0, 100.0];
        learner.update(1, 0, 1.0, 0, true);
        assert_eq!(learner.q[1][0], 0.5);
        learner.update(2, 0, 1.0, 1, false);
        // target 1 + 0.9 * max(0.5, 0) = 1.45, half of it
        assert!((learner.q[2][0] - 0.725).abs() < 1e-12);
    }

    #[test]
    fn seeded_training_learns_the_optimal_policy_from_every_state() {
        for seed in [1, 2, 3] {
            let report = learn(&QLearningRecipe::new().with_seed(seed));
            let optimal = report.learner.optimal_states(1e-6);
            assert!(optimal.iter().all(|o| *o), "seed {seed}:\n{}", table_text(&report.learner));
            // The states next to the ends must point inwards.
            assert_eq!(report.learner.greedy(1), 1);
            assert_eq!(report.learner.greedy(8), 0);
        }
        let a = learn(&QLearningRecipe::new());
        let b = learn(&QLearningRecipe::new());
        assert_eq!(a.learner.q, b.learner.q);
    }
}
