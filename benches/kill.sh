#!/usr/bin/env bash
# kill -9 at random moments, for every family: a small run of each is killed KILLS times at a
# random moment (start-up, a step, validation, a checkpoint write) and resumed each time; a
# run that ends is checked and a new one started until KILLS kills have landed.
#
# A kill counts as survived when every start after it (a resume, or a new run when it came
# before the first checkpoint) ran without an error, a panic or a "damaged checkpoint"
# warning (every checkpoint part is checked against the length and CRC-32C it was written
# with), and the run it hit, once finished, has each epoch's rows in metrics.csv once, every
# epoch up to its last, no temporary file left, and `zoo eval` works on it.
#
# Usage: benches/kill.sh [KILLS] [OUT_DIR] [FAMILY...]   (defaults: 20, /tmp/zoo-kill, all)
# ZOO: the zoo binary (default: target/release/zoo, built with `cargo build --release`).
set -uo pipefail
cd "$(dirname "$0")/.."

KILLS=${1:-20}
OUT=${2:-/tmp/zoo-kill}
shift $(( $# > 2 ? 2 : $# ))
ZOO=${ZOO:-${CARGO_TARGET_DIR:-target}/release/zoo}
[ -x "$ZOO" ] || { echo "no zoo binary at $ZOO: cargo build --release first, or set ZOO" >&2; exit 2; }
mkdir -p "$OUT"

# family: model | arguments of a new run | longest wait before a kill (ms) | extra eval arguments
declare -A MODEL=(
  [classifier]=cnn [vae]=vae [gan]=gan [language]=char-lstm [text]=attention [forecast]=lstm [dqn]=dqn
)
declare -A ARGS=(
  [classifier]="--limit 3000 --epochs 4"
  [vae]="--limit 2000 --epochs 4"
  [gan]="--limit 400 --epochs 4"
  [language]="--epochs 4 --batch-size 32 --set char_model.hidden=64 --set char_model.embedding=32 --set language.steps_per_epoch=30 --set language.valid_chars=5000"
  [text]="--limit 400 --epochs 4"
  [forecast]="--epochs 20"
  [dqn]="--steps 60000"
)
declare -A WAIT_MS=(
  [classifier]=4000 [vae]=5000 [gan]=12000 [language]=2500 [text]=12000 [forecast]=6000 [dqn]=3000
)
FAMILIES=("$@")
[ ${#FAMILIES[@]} -gt 0 ] || FAMILIES=(classifier vae gan language text forecast dqn)

# The GAN's eval needs a judge: a small cnn run, trained once.
judge="$OUT/judge"
if [[ " ${FAMILIES[*]} " == *" gan "* ]] && [ ! -f "$judge/model.bpk" ]; then
  rm -rf "$judge"
  "$ZOO" train cnn --device cpu --limit 3000 --epochs 2 --run-dir "$judge" >/dev/null 2>&1 || { echo "judge run failed" >&2; exit 1; }
fi

has_checkpoint() { compgen -G "$1/checkpoint/progress-*.json" >/dev/null; }

# Checks a finished run; prints what is wrong (nothing when all is well).
verify() {
  local family=$1 dir=$2
  local model=${MODEL[$family]}
  awk -F, 'NR > 1 { seen[$1 "," $2 "," $3]++ } END { for (k in seen) if (seen[k] > 1) print "metrics.csv: " k " " seen[k] " times" }' "$dir/metrics.csv"
  awk -F, 'NR > 1 && $2 == "train" { e[$1] = 1; if ($1 > m) m = $1 } END { for (i = 1; i <= m; i++) if (!(i in e)) print "metrics.csv: epoch " i " missing" }' "$dir/metrics.csv"
  find "$dir" -name '.*.tmp-*' | sed 's/^/left behind: /'
  local extra=()
  [ "$model" = gan ] && extra=(--judge "$judge" --samples 500)
  "$ZOO" eval "$model" --run "$dir" --device cpu "${extra[@]}" >"$dir.eval" 2>&1 || echo "eval failed: $(tail -n1 "$dir.eval")"
}

summary="$OUT/kill.md"
echo "| family | model | kills survived / tried | runs finished | failures | wall time |" >"$summary"
echo "|---|---|---|---|---|---|" >>"$summary"
for family in "${FAMILIES[@]}"; do
  model=${MODEL[$family]}
  read -r -a args <<<"${ARGS[$family]}"
  dir="$OUT/$family"
  rm -rf "$dir" "$dir".*
  kills=0 pending=0 survived=0 runs=0 starts=0
  failures=()
  started=$(date +%s)
  finish_run() { # verifies the run in $dir and settles the kills that hit it
    local problems
    problems=$(verify "$family" "$dir")
    if [ -z "$problems" ]; then
      survived=$((survived + pending))
    else
      failures+=("run $runs: $problems")
    fi
    runs=$((runs + 1)) pending=0
    rm -rf "$dir"
  }
  while [ $kills -lt "$KILLS" ]; do
    if has_checkpoint "$dir"; then
      command=(train "$model" --resume "$dir" --device cpu)
    else
      rm -rf "$dir"
      command=(train "$model" "${args[@]}" --run-dir "$dir" --device cpu)
    fi
    starts=$((starts + 1))
    "$ZOO" "${command[@]}" >"$dir.out" 2>"$dir.err" </dev/null &
    pid=$!
    wait_ms=$((200 + (RANDOM * 32768 + RANDOM) % ${WAIT_MS[$family]}))
    sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      status=killed
      kills=$((kills + 1)) pending=$((pending + 1))
    else
      wait "$pid"
      status=$?
    fi
    if grep -q "damaged checkpoint\|panicked" "$dir.err"; then
      failures+=("start $starts: $(grep -m1 "damaged checkpoint\|panicked" "$dir.err")")
      pending=0
      rm -rf "$dir"
    elif [ "$status" != killed ] && [ "$status" != 0 ]; then
      failures+=("start $starts exited $status: $(tail -n1 "$dir.err")")
      pending=0
      rm -rf "$dir"
    elif [ "$status" = 0 ]; then
      finish_run
    fi
  done
  # The run the last kills hit, resumed to its end without kills.
  if [ $pending -gt 0 ]; then
    if has_checkpoint "$dir"; then
      "$ZOO" train "$model" --resume "$dir" --device cpu >"$dir.out" 2>"$dir.err" </dev/null
    else
      rm -rf "$dir"
      "$ZOO" train "$model" "${args[@]}" --run-dir "$dir" --device cpu >"$dir.out" 2>"$dir.err" </dev/null
    fi
    status=$?
    if [ $status = 0 ] && ! grep -q "damaged checkpoint\|panicked" "$dir.err"; then
      finish_run
    else
      failures+=("final resume exited $status: $(tail -n1 "$dir.err")")
    fi
  fi
  seconds=$(($(date +%s) - started))
  line="| $family | \`$model\` | $survived / $kills | $runs | ${#failures[@]} | $((seconds / 60)) min $((seconds % 60)) s |"
  echo "$line" | tee -a "$summary"
  for failure in "${failures[@]}"; do echo "  $family: $failure" | tee -a "$OUT/failures.txt"; done
done
echo "table: $summary"
