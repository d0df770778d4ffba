#!/usr/bin/env bash
# The experiments of the README, one command each: trains MODEL with every recipe of a
# folder, evaluates each run on the full test set and on the images it trained on, prints
# the table and draws every run's curves into one picture.
#
#   benches/experiment.sh mlp recipes/overfitting MNIST_DIR [OUT_DIR]     (item 2)
#   benches/experiment.sh resnet recipes/resnet-depth MNIST_DIR [OUT_DIR] (item 28)
#
# zoo on PATH, or ZOO=path/to/zoo.
set -euo pipefail
model=${1:?usage: benches/experiment.sh MODEL RECIPE_DIR MNIST_DIR [OUT_DIR]}
recipes=${2:?usage: benches/experiment.sh MODEL RECIPE_DIR MNIST_DIR [OUT_DIR]}
data=${3:?usage: benches/experiment.sh MODEL RECIPE_DIR MNIST_DIR [OUT_DIR]}
out=${4:-runs/$(basename "$recipes")}
zoo=${ZOO:-zoo}
mkdir -p "$out"
runs=()
for recipe in "$recipes"/*.json; do
    name=$(basename "$recipe" .json)
    run="$out/$name"
    rm -rf "$run"
    "$zoo" train "$model" --config "$recipe" --data "$data" --run-dir "$run" --device cpu > "$out/$name.log"
    "$zoo" eval "$model" --run "$run" --device cpu > /dev/null
    "$zoo" eval "$model" --run "$run" --device cpu --train-split > /dev/null
    runs+=("$run")
done
"$zoo" compare "${runs[@]}" --out "$out/$(basename "$recipes").png"
