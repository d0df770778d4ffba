//! The experience replay buffer of DQN: a ring of the last `capacity` transitions in flat
//! `Vec`s (no per-transition allocation, no tensors until a batch is drawn), sampled uniformly
//! with zoo's seeded generator so that a run is reproducible. burn-rl's `TransitionBuffer`
//! keeps tensors and writes one slice per transition, which costs more than the network on
//! CartPole; and it draws with an unseeded generator.

use zoo_data::SplitMix64;

#[derive(Clone, Debug, PartialEq)]
pub struct ReplayBuffer {
    observation_size: usize,
    capacity: usize,
    len: usize,
    /// Slot the next transition goes to.
    next: usize,
    states: Vec<f32>,
    next_states: Vec<f32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    /// 1.0 where the episode ended in a terminal state (not where it was cut by the time limit:
    /// there the next state's value still counts).
    terminated: Vec<f32>,
}

/// A batch drawn from the buffer, flat and ready to become tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayBatch {
    pub size: usize,
    /// `[size * observation_size]`, row-major.
    pub states: Vec<f32>,
    pub actions: Vec<i64>,
    pub rewards: Vec<f32>,
    pub next_states: Vec<f32>,
    pub terminated: Vec<f32>,
}

const MAGIC: &[u8; 8] = b"ZOORPL1\n";

impl ReplayBuffer {
    pub fn new(capacity: usize, observation_size: usize) -> Self {
        assert!(capacity > 0 && observation_size > 0);
        Self {
            observation_size,
            capacity,
            len: 0,
            next: 0,
            states: vec![0.0; capacity * observation_size],
            next_states: vec![0.0; capacity * observation_size],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            terminated: vec![0.0; capacity],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stores a transition, overwriting the oldest once full.
    pub fn push(&mut self, state: &[f32], action: usize, reward: f32, next_state: &[f32], terminated: bool) {
        let n = self.observation_size;
        assert_eq!(state.len(), n, "observation size");
        let slot = self.next;
        self.states[slot * n..(slot + 1) * n].copy_from_slice(state);
        self.next_states[slot * n..(slot + 1) * n].copy_from_slice(next_state);
        self.actions[slot] = action as u32;
        self.rewards[slot] = reward;
        self.terminated[slot] = if terminated { 1.0 } else { 0.0 };
        self.next = (slot + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// `size` transitions drawn uniformly with replacement (as SB3 and CleanRL draw).
    pub fn sample(&self, size: usize, rng: &mut SplitMix64) -> ReplayBatch {
        assert!(self.len > 0, "sampling an empty replay buffer");
        let n = self.observation_size;
        let mut batch = ReplayBatch {
            size,
            states: Vec::with_capacity(size * n),
            actions: Vec::with_capacity(size),
            rewards: Vec::with_capacity(size),
            next_states: Vec::with_capacity(size * n),
            terminated: Vec::with_capacity(size),
        };
        for _ in 0..size {
            let i = rng.below(self.len);
            batch.states.extend_from_slice(&self.states[i * n..(i + 1) * n]);
            batch.next_states.extend_from_slice(&self.next_states[i * n..(i + 1) * n]);
            batch.actions.push(i64::from(self.actions[i]));
            batch.rewards.push(self.rewards[i]);
            batch.terminated.push(self.terminated[i]);
        }
        batch
    }

    /// The buffer as bytes, for checkpoints: so a resumed run learns from the same memories.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.capacity * (2 * self.observation_size + 3) * 4);
        out.extend_from_slice(MAGIC);
        for v in [self.observation_size, self.capacity, self.len, self.next] {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        let floats = self.states.iter().chain(&self.next_states).chain(&self.rewards).chain(&self.terminated);
        for v in floats {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for a in &self.actions {
            out.extend_from_slice(&a.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let rest = bytes.strip_prefix(MAGIC).ok_or("not a zoo replay buffer")?;
        if rest.len() < 32 {
            return Err("truncated header".into());
        }
        let word = |i: usize| u64::from_le_bytes(rest[i * 8..i * 8 + 8].try_into().unwrap()) as usize;
        let (n, capacity, len, next) = (word(0), word(1), word(2), word(3));
        if n == 0 || capacity == 0 || len > capacity || next >= capacity {
            return Err("inconsistent header".into());
        }
        let body = &rest[32..];
        let expected = capacity.checked_mul(2 * n + 3).and_then(|v| v.checked_mul(4)).ok_or("header too large")?;
        if body.len() != expected {
            return Err(format!("{} bytes of data where {expected} were expected", body.len()));
        }
        let mut words = body.chunks_exact(4).map(|c| <[u8; 4]>::try_from(c).unwrap());
        let mut floats = |count: usize| -> Vec<f32> { words.by_ref().take(count).map(f32::from_le_bytes).collect() };
        let states = floats(capacity * n);
        let next_states = floats(capacity * n);
        let rewards = floats(capacity);
        let terminated = floats(capacity);
        let actions = words.map(u32::from_le_bytes).collect();
        Ok(Self { observation_size: n, capacity, len, next, states, next_states, actions, rewards, terminated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_numbered(buffer: &mut ReplayBuffer, i: usize) {
        let v = i as f32;
        buffer.push(&[v, v], i % 2, v, &[v + 0.5, v + 0.5], i.is_multiple_of(3));
    }

    #[test]
    fn keeps_the_last_capacity_transitions() {
        let mut buffer = ReplayBuffer::new(5, 2);
        for i in 0..3 {
            push_numbered(&mut buffer, i);
        }
        assert_eq!(buffer.len(), 3);
        for i in 3..12 {
            push_numbered(&mut buffer, i);
        }
        assert_eq!(buffer.len(), 5);
        let mut rng = SplitMix64::new(1);
        let batch = buffer.sample(2000, &mut rng);
        let mut seen: Vec<i64> = batch.rewards.iter().map(|r| *r as i64).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, vec![7, 8, 9, 10, 11], "only the newest five remain, all drawn");
        // Every field of a drawn row belongs to the same transition.
        for k in 0..batch.size {
            let r = batch.rewards[k];
            assert_eq!(batch.states[2 * k], r);
            assert_eq!(batch.next_states[2 * k + 1], r + 0.5);
            assert_eq!(batch.actions[k], (r as i64) % 2);
            assert_eq!(batch.terminated[k], if (r as i64) % 3 == 0 { 1.0 } else { 0.0 });
        }
    }

    #[test]
    fn sampling_is_seeded_and_roughly_uniform() {
        let mut buffer = ReplayBuffer::new(10, 2);
        for i in 0..10 {
            push_numbered(&mut buffer, i);
        }
        let a = buffer.sample(64, &mut SplitMix64::new(9));
        assert_eq!(a, buffer.sample(64, &mut SplitMix64::new(9)));
        let many = buffer.sample(50_000, &mut SplitMix64::new(3));
        let mut counts = [0usize; 10];
        for r in many.rewards {
            counts[r as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (4_500..5_500).contains(&c)), "{counts:?}");
    }

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let mut buffer = ReplayBuffer::new(4, 2);
        for i in 0..6 {
            push_numbered(&mut buffer, i);
        }
        let bytes = buffer.to_bytes();
        assert_eq!(ReplayBuffer::from_bytes(&bytes).unwrap(), buffer);
        assert!(ReplayBuffer::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(ReplayBuffer::from_bytes(b"garbage").is_err());
    }
}
