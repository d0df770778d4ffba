#!/usr/bin/env bash
# The GPU benchmark, for a machine with an NVIDIA GPU: one table of training throughput (samples/s
# of full Adam steps) for every model on zoo's cuda and wgpu backends and PyTorch CUDA's same step
# (benches/pytorch_baseline.py --device cuda), then the whole `cnn` and `vae` recipes end to end
# on full MNIST (zoo on cuda, PyTorch CUDA's cnn recipe beside it).
#
#   benches/gpu.sh [MNIST_DIR]        # default: ../shared/data/mnist, else zoo's download cache
#
# Environment: ZOO_BENCH_SECS (seconds per throughput case, default 3), ZOO_PYTHON (a Python with
# a CUDA build of torch), ZOO_GPU_EPOCHS (epochs of the end-to-end recipes, default 3: enough for
# seconds per epoch and the accuracy on the way; the README's recipes run 12 and 30). The build
# comes first and is timed apart; the measured part keeps under 8 minutes at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/zoo-target-gpu}"
export ZOO_BENCH_SECS="${ZOO_BENCH_SECS:-3}"
epochs="${ZOO_GPU_EPOCHS:-3}"
python="${ZOO_PYTHON:-python3}"
mnist="${1:-}"
if [ -z "$mnist" ]; then
  for dir in ../shared/data/mnist "${ZOO_CACHE:-$HOME/.cache/zoo}/mnist"; do
    if [ -d "$dir" ]; then mnist="$dir"; break; fi
  done
fi

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: none"
grep -m1 "model name" /proc/cpuinfo || true
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" \
  || echo "PyTorch CUDA unavailable: its column stays empty"

echo "== build (cuda + wgpu, release)"
build_start=$(date +%s)
cargo build --release --locked --features cuda,wgpu --bin zoo --bench throughput
echo "built in $(( $(date +%s) - build_start )) s"
zoo="$CARGO_TARGET_DIR/release/zoo"
"$zoo" devices

start=$(date +%s)
echo "== throughput: zoo cuda and wgpu, PyTorch CUDA ($ZOO_BENCH_SECS s per case)"
ZOO_BENCH_BACKENDS=cuda,wgpu ZOO_BENCH_TORCH_DEVICE=cuda ZOO_PYTHON="$python" \
  cargo bench --locked --features cuda,wgpu --bench throughput
echo "throughput done after $(( $(date +%s) - start )) s"

if [ -z "$mnist" ]; then
  echo "== end-to-end recipes: skipped (no full MNIST: give its folder, or run zoo data fetch mnist)"
  exit 0
fi
runs=$(mktemp -d)
for model in cnn vae; do
  echo "== zoo train $model on cuda, $epochs epochs of the default recipe, full MNIST"
  t0=$(date +%s)
  "$zoo" -q train "$model" --device cuda --data "$mnist" --epochs "$epochs" --run-dir "$runs/$model" >"$runs/$model.log" 2>&1 \
    || { tail -5 "$runs/$model.log"; continue; }
  echo "trained in $(( $(date +%s) - t0 )) s"
  grep -E "epoch [0-9]+/[0-9]+ (train|valid) done" "$runs/$model.log" | tail -2 || true
  "$zoo" eval "$model" --run "$runs/$model" --device cuda --data "$mnist" | tail -3
done
echo "== PyTorch CUDA, the cnn recipe, $epochs epochs (epoch, training seconds, test accuracy)"
"$python" benches/cnn_recipe_pytorch.py "$mnist" --device cuda --epochs "$epochs" || echo "PyTorch CUDA unavailable"
echo "GPU benchmark done after $(( $(date +%s) - start )) s (build apart)"
