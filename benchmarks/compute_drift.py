"""ComputeDrift throughput: captured rows per second for 100,000 rows of 10 features (7
numeric, 3 categorical), parsing and statistics, in-process; and the function's cold
import time (`make bench`)."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localcloud.world import capture_record
from model_medic.measure.baseline import build_baseline
from model_medic.measure.capture_sample import sample_for
from model_medic.measure.drift_statistics import drift

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = [f"x{i}" for i in range(7)]
CATEGORICAL = ["plan", "region", "channel"]
CHOICES = {"plan": ["basic", "plus", "pro"], "region": ["eu", "us", "apac", "latam"], "channel": ["web", "app"]}


def row(rng: random.Random, shift: float) -> list[str]:
    return [f"{rng.gauss(50 + shift, 10):.3f}" for _ in NUMERIC] + [rng.choice(CHOICES[c]) for c in CATEGORICAL]


def timed(baseline: dict[str, Any], files: list[bytes]) -> tuple[float, Any, list[Any]]:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        sample = sample_for(baseline)
        for text in files:
            sample.add_capture_file(text)
        results = drift(baseline, sample)
        timings.append(time.perf_counter() - started)
    return min(timings), sample, results


def batches(rng: random.Random, shape: str, rows: int = 100_000, per_request: int = 10) -> list[bytes]:
    """Capture files of batched requests: 10 CSV lines, or {"instances": [{"features": [...]}]} of 10."""
    files, lines = [], []
    for start in range(0, rows, per_request):
        batch = [row(rng, 2.0) for _ in range(per_request)]
        if shape == "csv":
            data, content_type, encoding = "\n".join(",".join(r) for r in batch), "text/csv", "CSV"
        else:
            instances = [{"features": [float(v) for v in r[: len(NUMERIC)]] + r[len(NUMERIC) :]} for r in batch]
            data, content_type, encoding = json.dumps({"instances": instances}), "application/json", "JSON"
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": content_type,
                            "mode": "INPUT",
                            "data": data,
                            "encoding": encoding,
                        }
                    },
                    "eventMetadata": {"eventId": str(start), "inferenceTime": "2026-11-22T09:00:00Z"},
                    "eventVersion": "0",
                }
            )
        )
        if len(lines) == 500:
            files.append("\n".join(lines).encode())
            lines = []
    if lines:
        files.append("\n".join(lines).encode())
    return files


def main() -> None:
    rng = random.Random("bench")
    # The training set carries the label first, as SageMaker's built-in algorithms expect;
    # the baseline leaves it out, and captured requests do not carry it.
    training = "\n".join(
        [",".join(["label", *NUMERIC, *CATEGORICAL])]
        + [",".join([rng.choice("01"), *row(rng, 0)]) for _ in range(20_000)]
    )
    baseline = build_baseline(training, label_column="label")
    files, rows, per_file = [], 100_000, 5_000
    for start in range(0, rows, per_file):
        lines = []
        for i in range(start, start + per_file):
            lines.append(capture_record(",".join(row(rng, 2.0)), str(i), "2026-11-22T09:00:00Z"))
        files.append("\n".join(lines).encode())  # bytes, as S3 returns them
    best, sample, results = timed(baseline, files)
    print("ComputeDrift: 100,000 captured rows x 10 features (7 numeric, 3 categorical), best of 5\n")
    print("| rows | parse + PSI + KS | rows per second | max PSI |\n|---:|---:|---:|---:|")
    print(f"| {sample.rows:,} | {best:.2f} s | {sample.rows / best:,.0f} | {max(r.psi for r in results):.3f} |")
    print("\nThe same 100,000 rows in batched requests of 10 (best of 5):\n")
    print("| request shape | rows | parse + PSI + KS | rows per second |\n|---|---:|---:|---:|")
    for shape, batched in (("CSV, 10 lines a request", batches(rng, "csv")), ("JSON instances", batches(rng, "json"))):
        best, sample, _ = timed(baseline, batched)
        print(f"| {shape} | {sample.rows:,} | {best:.2f} s | {sample.rows / best:,.0f} |")
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'functions' / 'compute_drift'}:{ROOT / 'layers' / 'common'}",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    cold = sorted(
        float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)  # noqa: S603
        for _ in range(5)
    )
    print(f"\nCold import of functions/compute_drift/app.py (median of 5): {cold[2] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
