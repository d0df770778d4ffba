//! `qlearning`: tabular Q-learning on the 10-state chain, item 4 of the source document with
//! the article's learning rate (0.1), discount (0.9) and epsilon schedule (1.0, x0.995 per
//! episode, floor 0.01), and its two bugs fixed: the chain is reset to a random interior state
//! for every episode, and a terminal transition's target is its reward alone (the article
//! passed the previous step's `done` to the update).

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::SplitMix64;
use zoo_data::env::chain::{ACTIONS, STATES};
use zoo_data::env::{Chain, Environment};

use super::{ReturnStats, RlTrainRequest, refuse};
use crate::dashboard::{Dashboard, MetricSpec};
use crate::error::{Result, ZooError, io_error};
use crate::plot::episode_returns;
use crate::recipes::{Recipe, recipe_or_default};
use crate::render::format_duration;
use crate::run::RunDir;

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
    pub seconds: f64,
}

const METRICS: [MetricSpec; 3] =
    [MetricSpec::higher("Return"), MetricSpec::higher("Episode Length"), MetricSpec::lower("Exploration Rate")];

pub fn train(request: &RlTrainRequest) -> Result<QLearningReport> {
    if request.resume.is_some() {
        return Err(refuse("--resume", "qlearning", "a run takes well under a second: start a new one"));
    }
    if request.batch_size.is_some() {
        return Err(refuse("--batch-size", "qlearning", "it updates its table after every step"));
    }
    let mut recipe: QLearningRecipe = recipe_or_default(request.config_file.as_deref())?;
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
        return Err(ZooError::usage("qlearning recipe: episodes, max_steps and episodes_per_epoch must be positive"));
    }
    let run = RunDir::start(request.run_dir.as_deref(), &recipe, ENVIRONMENT, &request.device_name)?;
    println!(
        "zoo train qlearning: {} episodes on the 10-state chain, seed {}; run folder {}",
        recipe.episodes,
        recipe.seed,
        run.path().display()
    );
    let report = learn(&recipe, Some(&run))?;
    print!("{}", table_text(&report.learner));
    let optimal = report.learner.optimal_states(1e-6);
    println!(
        "greedy policy optimal from {} of {} interior states; trained {} episodes ({} steps) in {}; run folder {}",
        optimal.iter().filter(|o| **o).count(),
        optimal.len(),
        report.episodes,
        report.steps,
        format_duration(report.seconds),
        run.path().display()
    );
    Ok(report)
}

/// Runs Q-learning; with a run folder, reports to the dashboard and writes `q_table.json`,
/// `metrics.csv` and `returns.png`.
pub fn learn(recipe: &QLearningRecipe, run: Option<&RunDir>) -> Result<QLearningReport> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(recipe.seed ^ 0x0_51EED);
    let mut env = Chain::new(recipe.seed, recipe.max_steps);
    let mut learner = QLearner::new(recipe.learning_rate, recipe.gamma);
    let mut epsilon = recipe.epsilon_start;
    let mut returns = Vec::with_capacity(recipe.episodes);
    let mut steps = 0usize;
    let epochs = recipe.episodes.div_ceil(recipe.episodes_per_epoch);
    let mut dashboard =
        run.map(|run| Dashboard::new("qlearning", "episodes", &METRICS, &run.file("metrics.csv"), epochs, 1));
    'epochs: for epoch in 1..=epochs {
        let in_epoch = recipe.episodes_per_epoch.min(recipe.episodes - (epoch - 1) * recipe.episodes_per_epoch);
        if let Some(d) = dashboard.as_mut() {
            d.start_split("train", in_epoch);
        }
        for done in 0..in_epoch {
            env.reset();
            let (mut total, mut length) = (0.0, 0usize);
            loop {
                let state = env.state();
                let action = if rng.next_f64() < epsilon { rng.below(ACTIONS) } else { learner.greedy(state) };
                let step = env.step(action);
                learner.update(state, action, step.reward, step.next_state, step.done);
                total += step.reward;
                length += 1;
                steps += 1;
                if step.done || step.truncated || (recipe.steps > 0 && steps >= recipe.steps) {
                    break;
                }
            }
            returns.push(total);
            if let Some(d) = dashboard.as_mut() {
                d.value("Return", total, 1);
                d.value("Episode Length", length as f64, 1);
                d.value("Exploration Rate", epsilon, 1);
                d.progress(done + 1);
            }
            epsilon = (epsilon * recipe.epsilon_decay).max(recipe.epsilon_min);
            if recipe.steps > 0 && steps >= recipe.steps {
                if let Some((d, run)) = dashboard.as_mut().zip(run) {
                    d.end_split();
                    d.end_epoch(epoch).map_err(|e| io_error(&run.file("metrics.csv"), e))?;
                }
                break 'epochs;
            }
        }
        if let Some((d, run)) = dashboard.as_mut().zip(run) {
            d.end_split();
            d.end_epoch(epoch).map_err(|e| io_error(&run.file("metrics.csv"), e))?;
        }
    }
    if let Some(d) = dashboard {
        d.finish();
    }
    let report = QLearningReport { episodes: returns.len(), learner, steps, seconds: started.elapsed().as_secs_f64() };
    if let Some(run) = run {
        run.write_json("q_table.json", &table_report(&report, returns.clone()))?;
        let picture = run.file("returns.png");
        episode_returns(&picture, "qlearning on the 10-state chain", &returns, 20)
            .map_err(|e| io_error(&picture, e))?;
    }
    Ok(report)
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
    let recipe: QLearningRecipe = run.read_json("config.json")?;
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
            let report = learn(&QLearningRecipe::new().with_seed(seed), None).unwrap();
            let optimal = report.learner.optimal_states(1e-6);
            assert!(optimal.iter().all(|o| *o), "seed {seed}:\n{}", table_text(&report.learner));
            // The states next to the ends must point inwards.
            assert_eq!(report.learner.greedy(1), 1);
            assert_eq!(report.learner.greedy(8), 0);
        }
        let a = learn(&QLearningRecipe::new(), None).unwrap();
        let b = learn(&QLearningRecipe::new(), None).unwrap();
        assert_eq!(a.learner.q, b.learner.q);
    }
}
