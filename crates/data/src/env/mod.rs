//! Reinforcement-learning environments, behind burn-rl's [`Environment`] trait. Plain Rust,
//! deterministic from a seed; no tensors.

pub mod cartpole;
pub mod chain;

pub use burn_rl::{Environment, StepResult};
pub use cartpole::{CartPole, CartPoleState};
pub use chain::Chain;
