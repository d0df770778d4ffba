//! Reinforcement learning: CartPole against gymnasium's own trajectories, the DQN pieces (TD
//! target, target-network schedule, one step lowering the loss, determinism), and both RL
//! recipes end to end through the binary.

use std::path::Path;

use burn::prelude::*;
use serde_json::Value;
use zoo_data::SplitMix64;
use zoo_data::env::{CartPole, Environment};
use zoo_models::QNetConfig;
use zoo_train::recipes::Recipe;
use zoo_train::rl::dqn::{DqnAgent, DqnRecipe, td_targets};
use zoo_train::rl::replay::ReplayBuffer;

use crate::common::{assert_clean_error, fixture, rng_lock, stdout, zoo};

#[test]
fn cartpole_reproduces_gymnasium_to_1e_9() {
    let text = std::fs::read_to_string(fixture("cartpole_gymnasium.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture["gymnasium"], "1.4.0");
    let floats = |v: &Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let episodes = fixture["episodes"].as_array().unwrap();
    let mut steps_checked = 0;
    for (e, episode) in episodes.iter().enumerate() {
        let initial: [f64; 4] = floats(&episode["initial_state"]).try_into().unwrap();
        let mut env = CartPole::with_state(initial);
        let actions = episode["actions"].as_array().unwrap();
        for (t, action) in actions.iter().enumerate() {
            let step = env.step(action.as_u64().unwrap() as usize);
            let expected = floats(&episode["states"][t]);
            for (got, want) in step.next_state.iter().zip(&expected) {
                assert!((got - want).abs() <= 1e-9, "episode {e} step {t}: {:?} vs {expected:?}", step.next_state);
            }
            assert_eq!(step.reward, episode["rewards"][t].as_f64().unwrap());
            assert_eq!(step.done, episode["terminated"][t].as_bool().unwrap(), "episode {e} step {t}");
            assert_eq!(step.truncated, episode["truncated"][t].as_bool().unwrap(), "episode {e} step {t}");
            steps_checked += 1;
        }
    }
    // Six random-action episodes that fail and one balanced to the 500-step truncation.
    assert!(steps_checked > 600, "{steps_checked}");
    assert!(episodes.iter().any(|e| e["truncated"].as_array().unwrap().last().unwrap() == true));
}

#[test]
fn td_target_of_hand_computed_transitions() {
    let device = Device::flex();
    let rewards = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 0.5, -1.0], [3]), &device);
    let terminated = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 1.0, 0.0], [3]), &device);
    let next_q = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 3.0, 2.0, 5.0, -4.0, -2.0], [3, 2]), &device);
    let y: Vec<f32> = td_targets(rewards, terminated, next_q, 0.9).into_data().try_into_vec().unwrap();
    // 1 + 0.9 * max(1, 3); a terminal transition keeps its reward; -1 + 0.9 * max(-4, -2).
    let expected = [3.7f32, 0.5, -2.8];
    for (a, b) in y.iter().zip(expected) {
        assert!((a - b).abs() < 1e-6, "{y:?}");
    }
}

fn small_recipe(seed: u64) -> DqnRecipe {
    let mut recipe = DqnRecipe::default_recipe();
    recipe.dqn.seed = seed;
    recipe.dqn.learning_rate = 1e-3;
    recipe
}

/// A buffer of real CartPole transitions under random actions.
fn filled_buffer(n: usize) -> ReplayBuffer {
    let mut buffer = ReplayBuffer::new(n, 4);
    let mut env = CartPole::new(3);
    let mut rng = SplitMix64::new(4);
    for _ in 0..n {
        let state = env.observation();
        let step = env.step(rng.below(2));
        buffer.push(&state, 0, step.reward as f32, &env.observation(), step.done);
        if step.done || step.truncated {
            env.reset();
        }
    }
    buffer
}

fn values(net: &zoo_models::QNet, device: &Device) -> Vec<f32> {
    let probe =
        Tensor::<2>::from_data(TensorData::new(vec![0.01f32, -0.2, 0.03, 0.4, 0.0, 0.0, 0.0, 0.0], [2, 4]), device);
    net.forward(probe).into_data().convert::<f32>().try_into_vec().unwrap()
}

#[test]
fn qnet_shapes_and_seeded_determinism() {
    let _rng = rng_lock();
    let device = Device::flex();
    for hidden in [vec![64], vec![32, 16]] {
        let config = QNetConfig::new().with_hidden(hidden);
        // Parameters are initialised lazily, on first use: read each net before the next seed.
        device.seed(5);
        let a = config.init(&device);
        let values_a = values(&a, &device);
        device.seed(5);
        let values_b = values(&config.init(&device), &device);
        device.seed(6);
        let values_c = values(&config.init(&device), &device);
        let batch = Tensor::<2>::zeros([7, 4], &device);
        assert_eq!(a.forward(batch).dims(), [7, 2]);
        assert_eq!(values_a, values_b, "same seed, same weights");
        assert_ne!(values_a, values_c, "another seed, other weights");
    }
}

#[test]
fn gradient_steps_lower_the_loss_and_leave_the_target_alone() {
    let _rng = rng_lock();
    let device = Device::flex();
    let mut agent = DqnAgent::new(&small_recipe(7), &device);
    let buffer = filled_buffer(256);
    let batch = buffer.sample(64, &mut SplitMix64::new(1));
    let target_before = values(&agent.target, &device);
    let online_before = values(&agent.online.valid(), &device);
    let first = agent.train_step(&batch);
    let mut last = first;
    for _ in 0..5 {
        last = agent.train_step(&batch);
    }
    assert!(last < first, "loss on a fixed batch: {first} -> {last}");
    assert_ne!(values(&agent.online.valid(), &device), online_before, "the online network learns");
    assert_eq!(values(&agent.target, &device), target_before, "the target network waits for its update");
    agent.update_target();
    assert_eq!(values(&agent.target, &device), values(&agent.online.valid(), &device));
}

fn train_tiny_dqn(run: &Path, extra: &[&str]) -> std::process::Output {
    let config = run.with_extension("json");
    std::fs::write(
        &config,
        r#"{"dqn": {"steps_per_epoch": 300, "learning_starts": 100, "train_every": 50, "gradient_steps": 10, "eval_episodes": 2, "buffer_size": 2000}}"#,
    )
    .unwrap();
    let mut args = vec![
        "train",
        "dqn",
        "--device",
        "cpu",
        "--config",
        config.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    zoo(&args)
}

#[test]
fn dqn_trains_evaluates_plays_and_resumes_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("dqn");
    let out = train_tiny_dqn(&run, &["--steps", "600", "--seed", "3"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    for file in
        ["run.json", "config.json", "model.bpk", "last.bpk", "metrics.csv", "curves.png", "checkpoint/progress-2.json"]
    {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(metrics.contains("2,valid,Return,") && metrics.contains(",train,Loss,"), "{metrics}");

    let out = zoo(&["eval", "dqn", "--run", run.to_str().unwrap(), "--episodes", "3", "--device", "cpu"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(stdout(&out).contains("3 greedy episodes of CartPole-v1"), "{}", stdout(&out));
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(eval["returns"].as_array().unwrap().len(), 3);

    let out = zoo(&["play", "dqn", "--run", run.to_str().unwrap(), "--fps", "0", "--device", "cpu"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("[=====]") && shown.contains("episode over after"), "{shown}");

    // Training further from the last checkpoint, then refusing once all steps are done.
    let out = zoo(&["train", "dqn", "--resume", run.to_str().unwrap(), "--steps", "900", "--device", "cpu"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(run.join("checkpoint/progress-3.json").is_file());
    let out = zoo(&["train", "dqn", "--resume", run.to_str().unwrap(), "--device", "cpu"]);
    assert_clean_error(&out, 2, "all 900 steps are done");
    // The default device of a build with wgpu is a GPU: every call above names the CPU.
}

#[test]
fn dqn_runs_are_reproducible_for_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for run in [&a, &b] {
        let out = train_tiny_dqn(run, &["--steps", "300", "--seed", "9"]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
    }
    // Same losses, returns and evaluations epoch by epoch (the weight files differ only in
    // their random parameter ids; the process's memory is no figure of the run).
    let metrics = |run: &Path| {
        let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        csv.lines().filter(|l| !l.contains(",Memory MB,")).collect::<Vec<_>>().join("\n")
    };
    assert!(metrics(&a).contains(",train,Loss,"));
    assert_eq!(metrics(&a), metrics(&b));
}

#[test]
fn qlearning_trains_to_the_optimal_policy_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("q");
    let out = zoo(&["train", "qlearning", "--episodes", "1000", "--seed", "4", "--run-dir", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("policy  #><<<<<<<#") || text.contains("policy  #>") && text.contains("<#"), "{text}");
    assert!(text.contains("optimal from 8 of 8 interior states"), "{text}");
    let table_before: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("q_table.json")).unwrap()).unwrap();
    assert_eq!(table_before["returns"].as_array().unwrap().len(), 1000);
    let png = image::open(run.join("returns.png")).expect("returns.png is a PNG").to_rgb8();
    assert_eq!(png.dimensions(), (900, 450));
    let out = zoo(&["eval", "qlearning", "--run", run.to_str().unwrap(), "--episodes", "20"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    // The optimal policy never steps off the chain: every episode runs to the 100-step cut.
    assert!(stdout(&out).contains("return 100.0 ± 0.0"), "{}", stdout(&out));
    // Two hundred more episodes from the last checkpoint, with its table and generators.
    let out = zoo(&["train", "qlearning", "--resume", run.to_str().unwrap(), "--episodes", "1200"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let table: Value = serde_json::from_str(&std::fs::read_to_string(run.join("q_table.json")).unwrap()).unwrap();
    assert_eq!(table["returns"].as_array().unwrap().len(), 1200);
    let returns = |t: &Value| t["returns"].as_array().unwrap()[..1000].to_vec();
    assert_eq!(returns(&table), returns(&table_before), "the first 1000 episodes are kept");
}

#[test]
fn rl_flags_that_do_not_apply_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("x");
    let r = run.to_str().unwrap();
    assert_clean_error(
        &zoo(&["train", "dqn", "--epochs", "3", "--run-dir", r]),
        2,
        "--epochs does not apply to `zoo train dqn`; it takes --steps",
    );
    assert_clean_error(
        &zoo(&["train", "dqn", "--episodes", "3", "--run-dir", r]),
        2,
        "--episodes does not apply to `zoo train dqn`",
    );
    assert_clean_error(
        &zoo(&["train", "mlp", "--steps", "3", "--run-dir", r]),
        2,
        "--steps does not apply to `zoo train mlp`; it takes --epochs",
    );
    assert_clean_error(
        &zoo(&["eval", "mlp", "--run", r, "--episodes", "3"]),
        2,
        "--episodes does not apply to `zoo eval mlp`",
    );
    assert_clean_error(&zoo(&["play", "dqn", "--run", r]), 2, "no such run folder");
    assert_clean_error(
        &zoo(&["predict", "qlearning", "--run", r, "x.png"]),
        2,
        "`zoo predict` does not apply to qlearning",
    );
    assert!(!run.exists(), "a refused command creates nothing");
}

#[test]
fn q_values_converge_to_the_terminal_reward() {
    let _rng = rng_lock();
    // Every stored transition is terminal with reward 1: the fixed point is Q(s, a) = 1 for
    // the stored actions, whatever the target network says.
    let device = Device::flex();
    let mut recipe = small_recipe(2);
    recipe.dqn.learning_rate = 3e-3;
    let mut agent = DqnAgent::new(&recipe, &device);
    let mut buffer = ReplayBuffer::new(512, 4);
    let mut env = CartPole::new(8);
    let mut rng = SplitMix64::new(2);
    for _ in 0..512 {
        let state = env.observation();
        let action = rng.below(2);
        env.step(action);
        buffer.push(&state, action, 1.0, &env.observation(), true);
        if env.steps() > 20 {
            env.reset();
        }
    }
    let mut loss = f64::MAX;
    for _ in 0..400 {
        loss = agent.train_step(&buffer.sample(64, &mut rng));
    }
    assert!(loss < 1e-3, "loss {loss}");
}

#[test]
fn a_resumed_dqn_run_gets_the_steps_it_was_given() {
    // 450 steps in epochs of 300 end on a short epoch; --steps 700 must still train 250 more.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("short");
    let out = train_tiny_dqn(&run, &["--steps", "450"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let out = zoo(&["train", "dqn", "--resume", run.to_str().unwrap(), "--steps", "700", "--device", "cpu"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(stdout(&out).contains("trained dqn for 700 steps"), "{}", stdout(&out));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"model": {"observations": 8}}"#).unwrap();
    let out =
        zoo(&["train", "dqn", "--config", bad.to_str().unwrap(), "--run-dir", tmp.path().join("b").to_str().unwrap()]);
    assert_clean_error(&out, 2, "CartPole has 4 observations");
}
