//! The 10-state chain of item 4 of the source document, with the article's bug fixed: every
//! episode starts in a random interior state (the article never reset, so after the first
//! episode each one began in a terminal state and ended at once).
//!
//! States 0..=9; action 0 moves left, 1 right; a move earns +1, bumping into the end of the
//! chain -1 (only possible from an end, which is terminal); reaching state 0 or 9 ends the
//! episode. Moving never stops earning, so a good agent learns to stay inside: episodes are
//! therefore also cut (truncated, not terminated) after `max_steps`.

use burn_rl::{Environment, StepResult};

use crate::rng::SplitMix64;

pub const STATES: usize = 10;
pub const ACTIONS: usize = 2;
/// Default episode cut.
pub const MAX_STEPS: usize = 100;

#[derive(Clone, Debug)]
pub struct Chain {
    state: usize,
    steps: usize,
    max_steps: usize,
    rng: SplitMix64,
}

impl Chain {
    pub fn new(seed: u64, max_steps: usize) -> Self {
        let mut env = Self { state: 1, steps: 0, max_steps, rng: SplitMix64::new(seed) };
        env.reset();
        env
    }

    /// The generator of the starts, for checkpoints.
    pub fn rng(&self) -> SplitMix64 {
        self.rng
    }

    pub fn set_rng(&mut self, rng: SplitMix64) {
        self.rng = rng;
    }

    pub fn is_terminal(state: usize) -> bool {
        state == 0 || state == STATES - 1
    }

    /// The deterministic transition: `(next state, reward)`.
    pub fn transition(state: usize, action: usize) -> (usize, f64) {
        match action {
            0 if state > 0 => (state - 1, 1.0),
            1 if state < STATES - 1 => (state + 1, 1.0),
            _ => (state, -1.0),
        }
    }

    /// Optimal action values by value iteration with `gamma`, terminal states worth 0: the
    /// yardstick for the learned table. Episode cuts are ignored (they are not part of the
    /// state), as the Q-learning updates ignore them.
    pub fn optimal_q(gamma: f64) -> Vec<[f64; ACTIONS]> {
        let mut q: Vec<[f64; ACTIONS]> = vec![[0.0; ACTIONS]; STATES];
        for _ in 0..10_000 {
            let value: Vec<f64> = q
                .iter()
                .enumerate()
                .map(|(s, row)| if Self::is_terminal(s) { 0.0 } else { row[0].max(row[1]) })
                .collect();
            for (s, row) in q.iter_mut().enumerate() {
                if Self::is_terminal(s) {
                    continue;
                }
                for (a, slot) in row.iter_mut().enumerate() {
                    let (next, reward) = Self::transition(s, a);
                    *slot = reward + gamma * value[next];
                }
            }
        }
        q
    }
}

impl Environment for Chain {
    type State = usize;
    type Action = usize;
    const MAX_STEPS: usize = MAX_STEPS;

    fn state(&self) -> usize {
        self.state
    }

    fn step(&mut self, action: usize) -> StepResult<usize> {
        let (next, reward) = Self::transition(self.state, action);
        self.state = next;
        self.steps += 1;
        let done = Self::is_terminal(next);
        StepResult { next_state: next, reward, done, truncated: !done && self.steps >= self.max_steps }
    }

    fn reset(&mut self) {
        self.state = 1 + self.rng.below(STATES - 2);
        self.steps = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_the_chain() {
        assert_eq!(Chain::transition(3, 0), (2, 1.0));
        assert_eq!(Chain::transition(3, 1), (4, 1.0));
        assert_eq!(Chain::transition(0, 0), (0, -1.0));
        assert_eq!(Chain::transition(9, 1), (9, -1.0));
        let mut env = Chain::new(1, 100);
        for _ in 0..200 {
            env.reset();
            assert!((1..=8).contains(&env.state()));
        }
        let mut env = Chain { state: 1, steps: 0, max_steps: 100, rng: SplitMix64::new(0) };
        let step = env.step(0);
        assert!(step.done && !step.truncated && step.next_state == 0);
    }

    #[test]
    fn episodes_are_cut_at_max_steps() {
        let mut env = Chain { state: 4, steps: 0, max_steps: 3, rng: SplitMix64::new(0) };
        assert!(!env.step(1).truncated);
        assert!(!env.step(0).truncated);
        let last = env.step(1);
        assert!(last.truncated && !last.done);
    }

    #[test]
    fn optimal_values_stay_inside_the_chain() {
        let q = Chain::optimal_q(0.9);
        // Staying inside forever earns 1 / (1 - 0.9) = 10; stepping onto an end earns 1.
        assert!((q[1][0] - 1.0).abs() < 1e-9);
        assert!((q[1][1] - 10.0).abs() < 1e-6);
        assert!((q[8][1] - 1.0).abs() < 1e-9);
        assert!((q[5][0] - 10.0).abs() < 1e-6 && (q[5][1] - 10.0).abs() < 1e-6);
    }
}
