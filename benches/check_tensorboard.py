"""Reads a zoo run's TensorBoard event file with TensorBoard's own loader and prints every
scalar, so a figure in `metrics.csv` can be compared with what `tensorboard --logdir runs`
shows. Optional, not in CI; needs the `tensorboard` package.

    python3 benches/check_tensorboard.py runs/cnn/<time>
"""
import glob
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    run = sys.argv[1]
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        sys.exit(f"{run}: no event file")
    accumulator = EventAccumulator(run)
    accumulator.Reload()
    for tag in accumulator.Tags()["scalars"]:
        values = ", ".join(f"{e.step}: {e.value:.6g}" for e in accumulator.Scalars(tag))
        print(f"{tag}: {values}")


if __name__ == "__main__":
    main()
