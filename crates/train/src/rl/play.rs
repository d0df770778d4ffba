//! `zoo play dqn`: one episode of a trained policy drawn in the terminal with text, frame by
//! frame: the track between its two limits, the cart, and the pole leaning as it leans.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use burn::prelude::Device;
use zoo_data::env::cartpole::{THETA_THRESHOLD, X_THRESHOLD};
use zoo_data::env::{CartPole, CartPoleState, Environment};

use super::dqn::{act, load_policy};
use crate::error::Result;

/// Columns of the track from -2.4 m to +2.4 m.
const TRACK: usize = 61;
/// Rows of the 1 m pole: terminal cells are about twice as tall as wide, and the track has
/// 12.5 columns per metre.
const POLE_ROWS: usize = 6;

/// One frame as text.
pub fn frame(state: &CartPoleState, step: usize, total: f64) -> String {
    let [x, _, theta, _] = *state;
    let per_metre = (TRACK - 1) as f64 / (2.0 * X_THRESHOLD);
    let column = |metres: f64| ((metres + X_THRESHOLD) * per_metre).round().clamp(0.0, (TRACK - 1) as f64) as usize;
    let cart = column(x);
    let mut out = format!(
        "step {step:>3}   return {total:>5.0}   cart {x:+.3} m   pole {:+5.1} deg (falls at {:.0})\n",
        theta.to_degrees(),
        THETA_THRESHOLD.to_degrees()
    );
    let glyph = if theta > 0.04 { '/' } else if theta < -0.04 { '\\' } else { '|' };
    for row in (1..=POLE_ROWS).rev() {
        let height = row as f64 / POLE_ROWS as f64; // metres up the pole's vertical extent
        let col = column(x + height * theta.tan());
        let mut line = vec![' '; TRACK + 2];
        line[col + 1] = glyph;
        out.push_str(line.iter().collect::<String>().trim_end());
        out.push('\n');
    }
    let mut body = vec![' '; TRACK + 2];
    for dx in -3i64..=3 {
        let c = cart as i64 + 1 + dx;
        if (0..body.len() as i64).contains(&c) {
            body[c as usize] = if dx.abs() == 3 { '[' } else { '=' };
        }
    }
    if cart + 4 < body.len() {
        body[cart + 4] = ']';
    }
    out.push_str(body.iter().collect::<String>().trim_end());
    out.push('\n');
    out.push('|');
    out.push_str(&"-".repeat(TRACK));
    out.push_str("|\n");
    out
}

/// Plays one greedy episode; returns its return. `fps` 0 draws as fast as possible.
pub fn play(run_dir: &Path, seed: u64, fps: f64, device: &Device) -> Result<f64> {
    let (_, _, net) = load_policy(run_dir, device)?;
    let mut env = CartPole::new(seed);
    let terminal = std::io::stdout().is_terminal();
    let pause = (fps > 0.0).then(|| Duration::from_secs_f64(1.0 / fps));
    let mut stdout = std::io::stdout();
    let mut total = 0.0;
    let mut shown = frame(&env.state(), 0, total);
    let mut last_printed = 0;
    if terminal {
        print!("\x1b[2J\x1b[H{shown}");
    } else {
        print!("{shown}\n");
    }
    loop {
        let step = env.step(act(&net, &env.observation(), device));
        total += step.reward;
        shown = frame(&step.next_state, env.steps(), total);
        let end = step.done || step.truncated;
        if terminal {
            print!("\x1b[H{shown}");
            let _ = stdout.flush();
            if let Some(pause) = pause {
                std::thread::sleep(pause);
            }
        } else if env.steps() % 50 == 0 || end {
            // A log keeps every 50th frame and the last.
            print!("{shown}\n");
            last_printed = env.steps();
        }
        if end {
            let how = if step.done { "the pole fell or the cart left the track" } else { "the 500-step limit" };
            let _ = last_printed;
            println!("episode over after {} steps ({how}); return {total}", env.steps());
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upright_pole_sits_on_the_cart_and_a_leaning_one_leans() {
        let upright = frame(&[0.0, 0.0, 0.0, 0.0], 0, 0.0);
        let lines: Vec<&str> = upright.lines().collect();
        assert_eq!(lines.len(), 1 + POLE_ROWS + 2);
        let pole_col = lines[1].find('|').unwrap();
        assert!(lines[POLE_ROWS + 1].chars().nth(pole_col) == Some('='), "{upright}");
        let leaning = frame(&[0.0, 0.0, 0.15, 0.0], 0, 0.0);
        let top = leaning.lines().nth(1).unwrap().find('/').unwrap();
        let bottom = leaning.lines().nth(POLE_ROWS).unwrap().find('/').unwrap();
        assert!(top > bottom, "{leaning}");
        // The cart stays on the track at its limits.
        assert!(frame(&[2.4, 0.0, 0.0, 0.0], 0, 0.0).lines().skip(1).all(|l| l.chars().count() <= TRACK + 2));
    }
}
