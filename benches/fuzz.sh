#!/usr/bin/env bash
# Fuzzes zoo's readers with cargo-fuzz (libFuzzer, nightly): each target for SECONDS, its
# corpus seeded from the real files zoo ships (the MNIST extract, the series, the speeches, a
# digit picture). Prints executions and crashes per target; a crash's input is saved under
# fuzz/artifacts/<target>/ and the script exits 1.
#
# Usage: benches/fuzz.sh [SECONDS] [TARGET...]   (defaults: 300, every target)
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`. The targets that read
# through Burn (recipe_json, run_folder, checkpoint, weights) build without a sanitizer, on
# the stable toolchain (Burn under ASan takes long to build; they look for panics, aborts and
# memory blow-ups, which need none); ZOO seeds them from a tiny run.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-300}
shift $(( $# > 0 ? 1 : 0 ))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(idx series_csv documents picture recipe_json run_folder checkpoint weights)
ZOO=${ZOO:-${CARGO_TARGET_DIR:-target}/release/zoo}

# The workspace's versions of every crate (a newer systemstat breaks burn-train's build).
[ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock

# Seeds: small real files of each format.
seed() { mkdir -p "fuzz/corpus/$1"; cat >"fuzz/corpus/$1/$2"; }
python3 - <<'PY'
import gzip, json, os
os.makedirs("fuzz/corpus/idx", exist_ok=True)
images = gzip.open("assets/mnist/t10k-images-idx3-ubyte.gz").read()
labels = gzip.open("assets/mnist/t10k-labels-idx1-ubyte.gz").read()
head = bytearray(images[:16 + 4 * 784]); head[4:8] = (4).to_bytes(4, "big")
open("fuzz/corpus/idx/images", "wb").write(head)
tail = bytearray(labels[:8 + 4]); tail[4:8] = (4).to_bytes(4, "big")
open("fuzz/corpus/idx/labels", "wb").write(tail)
os.makedirs("fuzz/corpus/series_csv", exist_ok=True)
for name in ["co2_weekly.csv", "ssa_us_births_2000_2014.csv", "sunspots.csv"]:
    lines = open(f"assets/timeseries/{name}").read().splitlines()[:80]
    open(f"fuzz/corpus/series_csv/{name}", "w").write("\n".join(lines) + "\n")
os.makedirs("fuzz/corpus/documents", exist_ok=True)
speeches = gzip.open("assets/text/sotu.jsonl.gz").read().decode().splitlines()[:2]
records = []
for line in speeches:
    record = json.loads(line)
    records.append({"text": record["text"][:400], "label": record["party"]})
open("fuzz/corpus/documents/speeches.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in records))
open("fuzz/corpus/documents/speeches.csv", "w").write("text,label\n" + "".join('"%s",%s\n' % (r["text"].replace('"', '""'), r["label"]) for r in records))
PY
mkdir -p fuzz/corpus/picture && cp tests/fixtures/digit-7.png tests/fixtures/digit-2.png fuzz/corpus/picture/
mkdir -p fuzz/corpus/weights && cp tests/fixtures/weights/cnn.safetensors tests/fixtures/weights/cnn.pth fuzz/corpus/weights/
mkdir -p fuzz/corpus/recipe_json && find recipes -name '*.json' | head -8 | while read -r f; do cp "$f" "fuzz/corpus/recipe_json/$(echo "$f" | tr / _)"; done
# A tiny run's run.json, config.json and weights, where a zoo binary is at hand.
if [ -x "$ZOO" ]; then
  seed_run=$(mktemp -d)/run
  "$ZOO" train mlp --device cpu --limit 200 --epochs 1 --set model.hidden=16 --run-dir "$seed_run" >/dev/null 2>&1
  mkdir -p fuzz/corpus/run_folder fuzz/corpus/checkpoint
  cp "$seed_run/run.json" fuzz/corpus/run_folder/ && cp "$seed_run/config.json" fuzz/corpus/recipe_json/
  cp "$seed_run/model.bpk" "$seed_run"/checkpoint/optim-1.bpk fuzz/corpus/checkpoint/
fi

status=0
for target in "${TARGETS[@]}"; do
  log="fuzz/$target.log"
  case $target in
    # Without a sanitizer, so on the stable toolchain.
    recipe_json|run_folder|checkpoint|weights) fuzz=(cargo fuzz run -s none) ;;
    *) fuzz=(cargo +nightly fuzz run) ;;
  esac
  "${fuzz[@]}" "$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=1024 >"$log" 2>&1
  code=$?
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -n1)
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#')
  if [ $code = 0 ]; then
    echo "| $target | ${runs:-?} executions in $SECONDS_EACH s | 0 crashes |"
  else
    echo "| $target | ${runs:-?} executions | CRASH: $(grep -m1 -E 'panicked|ERROR' "$log") (see $log, fuzz/artifacts/$target/) |"
    status=1
  fi
done
exit $status
