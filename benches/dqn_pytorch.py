"""The `dqn` recipe's algorithm in PyTorch on gymnasium's CartPole-v1, step for step as
crates/train/src/rl/dqn.rs does it, to compare wall time and behaviour with zoo.

    python3 -m venv /tmp/gymenv && /tmp/gymenv/bin/pip install gymnasium==1.4.0 torch
    /tmp/gymenv/bin/python benches/dqn_pytorch.py [zoo config.json] [--seed N]

Prints the evaluations (20 greedy episodes every 2,500 steps by default), the wall time, and
the mean return of 100 greedy episodes with the best-evaluated weights.
"""
import copy
import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(2)
settings = dict(steps=100_000, steps_per_epoch=2_500, eval_episodes=20, seed=1, gamma=0.99,
                learning_rate=1e-3, buffer_size=100_000, batch_size=64, learning_starts=1_000,
                train_every=256, gradient_steps=128, target_update_every=10, epsilon_start=1.0,
                epsilon_end=0.04, exploration_fraction=0.16, huber_delta=1.0)
hidden, clip = [64], 10.0
args = sys.argv[1:]
if "--seed" in args:
    i = args.index("--seed")
    settings["seed"] = int(args[i + 1])
    del args[i:i + 2]
if args:
    config = json.load(open(args[0]))
    settings.update(config.get("dqn", {}))
    hidden = config.get("model", {}).get("hidden", hidden)
    clip_cfg = config.get("optimizer", {}).get("grad_clipping", {"Norm": 10.0})
    clip = clip_cfg["Norm"] if clip_cfg else None
s = settings
torch.manual_seed(s["seed"])
rng = np.random.default_rng(s["seed"])


def net():
    layers, width = [], 4
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 2))


online = net()
target = copy.deepcopy(online)
optimizer = torch.optim.Adam(online.parameters(), lr=s["learning_rate"], eps=1e-5)
n = s["buffer_size"]
states, next_states = np.zeros((n, 4), np.float32), np.zeros((n, 4), np.float32)
actions, rewards, terminated = np.zeros(n, np.int64), np.zeros(n, np.float32), np.zeros(n, np.float32)
size, slot = 0, 0


def epsilon(step):
    span = max(s["exploration_fraction"] * s["steps"], 1.0)
    return s["epsilon_start"] + min(step / span, 1.0) * (s["epsilon_end"] - s["epsilon_start"])


def greedy(model, obs):
    with torch.no_grad():
        return int(model(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(1)[0])


def evaluate(model, env, episodes):
    returns = []
    for _ in range(episodes):
        obs, _ = env.reset()
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(greedy(model, obs))
            total += r
            done = term or trunc
        returns.append(total)
    return returns


env, eval_env = gym.make("CartPole-v1"), gym.make("CartPole-v1")
obs, _ = env.reset(seed=s["seed"])
eval_env.reset(seed=s["seed"] + 1_000_003)
huber = nn.HuberLoss(delta=s["huber_delta"])
best, best_state, started, loss_value = -1.0, None, time.time(), float("nan")
for step in range(1, s["steps"] + 1):
    eps = epsilon(step - 1)
    action = int(rng.integers(2)) if rng.random() < eps else greedy(online, obs)
    next_obs, reward, term, trunc, _ = env.step(action)
    states[slot], next_states[slot], actions[slot] = obs, next_obs, action
    rewards[slot], terminated[slot] = reward, float(term)
    slot, size = (slot + 1) % n, min(size + 1, n)
    obs = next_obs
    if term or trunc:
        obs, _ = env.reset()
    if step >= s["learning_starts"] and step % s["train_every"] == 0:
        for _ in range(s["gradient_steps"]):
            i = rng.integers(size, size=s["batch_size"])
            with torch.no_grad():
                best_next = target(torch.from_numpy(next_states[i])).max(1).values
                y = torch.from_numpy(rewards[i]) + s["gamma"] * (1 - torch.from_numpy(terminated[i])) * best_next
            q = online(torch.from_numpy(states[i])).gather(1, torch.from_numpy(actions[i])[:, None])[:, 0]
            loss = huber(q, y)
            optimizer.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(online.parameters(), clip)
            optimizer.step()
            loss_value = float(loss)
    if step % s["target_update_every"] == 0:
        target.load_state_dict(online.state_dict())
    if step % s["steps_per_epoch"] == 0 or step == s["steps"]:
        mean = float(np.mean(evaluate(online, eval_env, s["eval_episodes"])))
        if mean >= best:
            best, best_state = mean, copy.deepcopy(online.state_dict())
        print(f"step {step} {time.time() - started:.2f} s eval {mean:.1f} loss {loss_value:.3f}", flush=True)
seconds = time.time() - started
online.load_state_dict(best_state)
final = evaluate(online, gym.make("CartPole-v1"), 100)
print(f"pytorch dqn seed {s['seed']}: {s['steps']} steps in {seconds:.1f} s; best evaluation {best:.1f}; "
      f"100 greedy episodes: {np.mean(final):.1f} ± {np.std(final):.1f}")
