"""The component judge's error rate and power, simulated: whole rolling updates looked at tick by tick.

The judge is `model_medic.remediate.rollout.component_judge.judge` itself. Each rolling update:
a baseline day of 20,000 requests at 1 % 5XX, then 20 looks of 500 requests each; the new
version runs on a share of the copies (the whole component, or one batch of four copies: a
quarter) and errs `ratio` times as often as the old one, so the mixed stream the judge sees errs
(1 - share + share x ratio) times as often. Rejected: the e-value reached 2/alpha at some look.

Run: `python -m benchmarks.component_judge` (`make bench` runs it); RUNS scales the counts.
"""

from __future__ import annotations

import os
import statistics

import numpy as np

from model_medic.remediate.rollout.component_judge import Counts, judge

BASELINE_REQUESTS, RATE, LOOK_REQUESTS, LOOKS = 20_000, 0.01, 500, 20
RUNS = int(os.environ.get("RUNS", "2000"))


def rollouts(ratio: float, share: float, alpha: float, runs: int, seed: int) -> tuple[int, list[int]]:
    """How many of `runs` updates were rejected, and at which look each was."""
    rng = np.random.default_rng(seed)
    mixed = RATE * (1 - share + share * ratio)
    looks_taken: list[int] = []
    for _ in range(runs):
        baseline = Counts(BASELINE_REQUESTS, float(rng.binomial(BASELINE_REQUESTS, RATE)))
        requests = errors = 0.0
        for look in range(1, LOOKS + 1):
            requests += LOOK_REQUESTS
            errors += float(rng.binomial(LOOK_REQUESTS, mixed))
            if judge(baseline, Counts(requests, errors), alpha).decision == "reject":
                looks_taken.append(look)
                break
    return len(looks_taken), looks_taken


def main() -> None:
    print(__doc__.splitlines()[0], "\n")
    shape = f"{LOOKS} looks of {LOOK_REQUESTS} requests"
    print(f"baseline {BASELINE_REQUESTS:,} requests at {RATE:.0%}; {shape}; {RUNS} runs\n")
    print("| new version errs | on | alpha | rolled back | median look |")
    print("|---:|---|---:|---:|---:|")
    for ratio, share, alpha in (
        (1.0, 1.0, 0.05),
        (1.0, 1.0, 0.01),
        (3.0, 1.0, 0.01),
        (3.0, 0.25, 0.01),
        (10.0, 0.25, 0.01),
    ):
        rejected, looks = rollouts(ratio, share, alpha, RUNS, seed=20261207)
        median = f"{statistics.median(looks):g}" if looks else "-"
        on = "all copies" if share == 1.0 else f"{share:.0%} of the copies"
        print(f"| {ratio:g} x | {on} | {alpha:g} | {rejected} of {RUNS} ({rejected / RUNS:.1%}) | {median} |")


if __name__ == "__main__":
    main()
