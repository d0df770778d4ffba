//! CartPole-v1 exactly as gymnasium 1.4.0 defines it (`gymnasium/envs/classic_control/
//! cartpole.py` with the `TimeLimit(500)` wrapper of its registration): explicit Euler steps of
//! the Barto-Sutton-Anderson equations, failure beyond 2.4 m or 12 degrees, reward 1 on every
//! step including the failing one, truncation after 500 steps, and a reset drawing all four
//! values uniformly from [-0.05, 0.05]. The state is kept in f64 as gymnasium keeps it; the
//! network sees it as f32. A fixture made with gymnasium itself checks it
//! (`tests/fixtures/cartpole_gymnasium.json`).

use burn_rl::{Environment, StepResult};

use crate::rng::SplitMix64;

pub const GRAVITY: f64 = 9.8;
pub const MASS_CART: f64 = 1.0;
pub const MASS_POLE: f64 = 0.1;
pub const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
/// Half the pole's length.
pub const LENGTH: f64 = 0.5;
pub const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
pub const FORCE: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// 12 degrees, computed as gymnasium computes it (`12 * 2 * math.pi / 360`).
pub const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
pub const X_THRESHOLD: f64 = 2.4;
/// CartPole-v1's `max_episode_steps`.
pub const MAX_EPISODE_STEPS: usize = 500;

/// `[x, x_dot, theta, theta_dot]`: cart position (m) and velocity, pole angle (rad, 0 upright)
/// and angular velocity.
pub type CartPoleState = [f64; 4];

#[derive(Clone, Debug)]
pub struct CartPole {
    state: CartPoleState,
    steps: usize,
    rng: SplitMix64,
}

impl CartPole {
    /// A freshly reset environment; the seed fixes every later reset too.
    pub fn new(seed: u64) -> Self {
        let mut env = Self { state: [0.0; 4], steps: 0, rng: SplitMix64::new(seed) };
        env.reset();
        env
    }

    /// Starts an episode from a given state (the reference trajectories use this).
    pub fn with_state(state: CartPoleState) -> Self {
        Self { state, steps: 0, rng: SplitMix64::new(0) }
    }

    /// The state as the network sees it.
    pub fn observation(&self) -> [f32; 4] {
        self.state.map(|v| v as f32)
    }

    /// Steps taken in this episode.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The generator state, for checkpoints.
    pub fn rng(&self) -> SplitMix64 {
        self.rng
    }

    pub fn set_rng(&mut self, rng: SplitMix64) {
        self.rng = rng;
    }

    /// Whether a state is outside the allowed region (the episode then ends).
    pub fn failed(state: &CartPoleState) -> bool {
        let [x, _, theta, _] = *state;
        !(-X_THRESHOLD..=X_THRESHOLD).contains(&x) || !(-THETA_THRESHOLD..=THETA_THRESHOLD).contains(&theta)
    }

    /// One Euler step of the dynamics; `push_right` is action 1.
    pub fn dynamics(state: &CartPoleState, push_right: bool) -> CartPoleState {
        let [x, x_dot, theta, theta_dot] = *state;
        let force = if push_right { FORCE } else { -FORCE };
        let (sin, cos) = theta.sin_cos();
        // The same operations in the same order as gymnasium, so rounding agrees too.
        let temp = (force + POLE_MASS_LENGTH * (theta_dot * theta_dot) * sin) / TOTAL_MASS;
        let theta_acc = (GRAVITY * sin - cos * temp) / (LENGTH * (4.0 / 3.0 - MASS_POLE * (cos * cos) / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc]
    }
}

impl Environment for CartPole {
    type State = CartPoleState;
    /// 0 pushes the cart left, 1 right.
    type Action = usize;
    const MAX_STEPS: usize = MAX_EPISODE_STEPS;

    fn state(&self) -> CartPoleState {
        self.state
    }

    fn step(&mut self, action: usize) -> StepResult<CartPoleState> {
        self.state = Self::dynamics(&self.state, action == 1);
        self.steps += 1;
        let done = Self::failed(&self.state);
        StepResult {
            next_state: self.state,
            // gymnasium 1.x: 1.0 on every step, the failing one included.
            reward: 1.0,
            done,
            truncated: !done && self.steps >= MAX_EPISODE_STEPS,
        }
    }

    fn reset(&mut self) {
        let rng = &mut self.rng;
        self.state = [(); 4].map(|_| rng.uniform(-0.05, 0.05));
        self.steps = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_is_seeded_and_in_range() {
        let a = CartPole::new(5);
        let b = CartPole::new(5);
        assert_eq!(a.state(), b.state());
        assert_ne!(a.state(), CartPole::new(6).state());
        assert!(a.state().iter().all(|v| v.abs() <= 0.05));
    }

    #[test]
    fn always_pushing_one_way_fails_soon_and_rewards_every_step() {
        let mut env = CartPole::new(1);
        let mut total = 0.0;
        loop {
            let step = env.step(1);
            total += step.reward;
            assert!(!step.truncated);
            if step.done {
                break;
            }
        }
        assert!((5.0..60.0).contains(&total), "{total}");
        assert_eq!(total as usize, env.steps());
    }

    #[test]
    fn a_balancing_controller_is_truncated_at_500() {
        let mut env = CartPole::new(2);
        let mut last = None;
        for _ in 0..MAX_EPISODE_STEPS {
            let [x, x_dot, theta, theta_dot] = env.state();
            let push_right = theta + 0.5 * theta_dot + 0.05 * x + 0.1 * x_dot > 0.0;
            let step = env.step(usize::from(push_right));
            assert!(!step.done, "fell at step {}", env.steps());
            last = Some(step);
        }
        assert!(last.unwrap().truncated);
    }
}
