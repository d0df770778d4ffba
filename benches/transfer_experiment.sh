#!/usr/bin/env bash
# The transfer experiment of the README (items 11, 18): a cnn pretrained on MNIST digits 0-4,
# its backbone frozen under a new head and fine-tuned on digits 5-9 with 1 %, 10 % and 100 % of
# their training labels (and 0.2 %), against the same network trained from scratch on the same labels;
# three seeds each, test accuracy on the 5,000 test images of digits 5-9.
#
#   benches/transfer_experiment.sh MNIST_DIR [OUT_DIR]      (zoo on PATH, or ZOO=path/to/zoo)
set -euo pipefail
data=${1:?usage: benches/transfer_experiment.sh MNIST_DIR [OUT_DIR]}
out=${2:-runs/transfer-experiment}
zoo=${ZOO:-zoo}
recipes=$(cd "$(dirname "$0")/../recipes/transfer" && pwd)
mkdir -p "$out"
accuracy() { "$zoo" eval transfer --run "$1" --device cpu | sed -n 's/.*accuracy \([0-9.]*\) %.*/\1/p'; }
if [ ! -f "$out/pretrain/model.bpk" ]; then
    rm -rf "$out/pretrain"
    "$zoo" train cnn --config "$recipes/pretrain-digits-0-4.json" --data "$data" --run-dir "$out/pretrain" --device cpu > "$out/pretrain.log"
fi
printf '%-8s %-8s %s\n' labels start "test accuracy per seed (1 2 3), mean ± spread"
for pct in 0.2 1 10 100; do
    for start in frozen scratch; do
        scores=()
        for seed in 1 2 3; do
            run="$out/$start-${pct}pct-seed$seed"
            rm -rf "$run"
            from=(); [ "$start" = frozen ] && from=(--from "$out/pretrain")
            "$zoo" train transfer "${from[@]}" --config "$recipes/$start-${pct}pct.json" --seed "$seed" \
                --data "$data" --run-dir "$run" --device cpu > "$run.log"
            scores+=("$(accuracy "$run")")
        done
        printf '%-8s %-8s %s ' "$pct %" "$start" "${scores[*]}"
        printf '%s\n' "${scores[@]}" | awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; printf "%.2f ± %.2f\n", m, sqrt((q-n*m*m)/(n-1))}'
    done
done
