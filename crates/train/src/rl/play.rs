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

/// Blank columns each side of the track, so that a cart at a limit is drawn whole.
const MARGIN: usize = 4;

/// One frame as text.
pub fn frame(state: &CartPoleState, step: usize, total: f64) -> String {
    let [x, _, theta, _] = *state;
    let width = TRACK + 2 * MARGIN;
    let per_metre = (TRACK - 1) as f64 / (2.0 * X_THRESHOLD);
    let column = |metres: f64| {
        let col = ((metres + X_THRESHOLD) * per_metre).round() + MARGIN as f64;
        col.clamp(0.0, (width - 1) as f64) as usize
    };
    let line = |cells: Vec<char>| cells.into_iter().collect::<String>().trim_end().to_string() + "\n";
    let mut out = format!(
        "step {step:>3}   return {total:>5.0}   cart {x:+.3} m   pole {:+5.1} deg (falls at {:.0})\n",
        theta.to_degrees(),
        THETA_THRESHOLD.to_degrees()
    );
    let glyph = if theta > 0.04 {
        '/'
    } else if theta < -0.04 {
        '\\'
    } else {
        '|'
    };
    for row in (1..=POLE_ROWS).rev() {
        let height = row as f64 / POLE_ROWS as f64; // metres up the pole's vertical extent
        let mut cells = vec![' '; width];
        cells[column(x + height * theta.tan())] = glyph;
        out.push_str(&line(cells));
    }
    let cart = column(x);
    let mut cells = vec![' '; width];
    cells[cart.saturating_sub(3)..=(cart + 3).min(width - 1)].fill('=');
    cells[cart.saturating_sub(3)] = '[';
    cells[(cart + 3).min(width - 1)] = ']';
    out.push_str(&line(cells));
    let mut track = vec![' '; width];
    track[MARGIN - 1] = '|';
    track[MARGIN + TRACK] = '|';
    for cell in &mut track[MARGIN..MARGIN + TRACK] {
        *cell = '-';
    }
    out.push_str(&line(track));
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
    if terminal {
        print!("\x1b[2J\x1b[H{shown}");
    } else {
        println!("{shown}");
    }
    loop {
        let step = env.step(act(&net, &env.observation(), device)?);
        total += step.reward;
        shown = frame(&step.next_state, env.steps(), total);
        let end = step.done || step.truncated;
        if terminal {
            // Home, each line cleared to its end, the rest of the screen cleared.
            print!("\x1b[H{}\x1b[J", shown.replace('\n', "\x1b[K\n"));
            let _ = stdout.flush();
            if let Some(pause) = pause {
                std::thread::sleep(pause);
            }
        } else if env.steps().is_multiple_of(50) || end {
            // A log keeps every 50th frame and the last.
            println!("{shown}");
        }
        if end {
            let how = if step.done { "the pole fell or the cart left the track" } else { "the 500-step limit" };
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
        // A cart at a limit is drawn whole.
        for x in [-2.4, 2.4] {
            let edge = frame(&[x, 0.0, 0.0, 0.0], 0, 0.0);
            assert!(edge.contains("[=====]"), "{edge}");
            assert!(edge.lines().skip(1).all(|l| l.chars().count() <= TRACK + 2 * MARGIN), "{edge}");
        }
    }
}
