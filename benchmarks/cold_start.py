"""Cold-start import cost of every function against the bare boto3 + Powertools import (`make bench`).

For each functions/<name>/app.py: paired runs, each in a fresh interpreter, interleaved (the
order alternates from pair to pair): the bare baseline - `import boto3`, Powertools' Logger,
Metrics and Tracer imported and made the way observability.py makes them - then the handler
module imported as Lambda does (`app` from the function's folder, the layer's code on the
path), with the environment the template gives that function, so its settings load.

Two cases: tracing off (POWERTOOLS_TRACE_DISABLED=true: no X-Ray SDK in either run), and
tracing as the template deploys it (`Tracing: Active`, so Powertools' Tracer is on in
Lambda: both runs import the X-Ray SDK and patch botocore). The per-pair ratio handler /
baseline is the figure; its median is reported with the medians of the absolute times, and
the time `load_settings` then takes on the first invocation (schema built, environment
validated), which a lazy import must not hide.

    PYTHONPATH=.:layers/common python -m benchmarks.cold_start [pairs]
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import median
from typing import Any

from localcloud.template import ROOT, Resolver, load, parameter_values

PAIRS = 10
LAYER = ROOT / "layers" / "common"
# Like tests/template/conftest.py: the parameters that have no default.
PARAMETERS = {
    "EndpointNames": "churn-prod,fraud-prod",
    "DataCaptureS3Uri": "s3://churn-ml/datacapture",
    "BaselineS3Uri": "s3://churn-ml/baselines",
    "GroundTruthS3Uri": "s3://churn-ml/groundtruth",
}
ACCOUNT_ARN = "arn:aws:{service}:us-east-1:123456789012:{name}"

# What every run times: from before its first import to after the last, in the same interpreter.
BASELINE = """
import time
started = time.perf_counter()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger()
Metrics(namespace="ModelMedic")
if not Tracer._is_tracer_disabled():
    Tracer(patch_modules=("botocore",))
elapsed = time.perf_counter() - started
import json, sys
print(json.dumps({"import": elapsed, "xray": "aws_xray_sdk.core" in sys.modules}))
"""

HANDLER = """
import time
started = time.perf_counter()
import app
elapsed = time.perf_counter() - started
import json, sys
from model_medic.platform.settings import Settings, load_settings
models = [v for v in vars(app).values() if isinstance(v, type) and issubclass(v, Settings) and v is not Settings]
models += [v.unit.settings for v in vars(app).values() if hasattr(getattr(v, "unit", None), "settings")]
models = list(dict.fromkeys(models))
started = time.perf_counter()
for model in models:
    load_settings(model)
settings = time.perf_counter() - started
print(json.dumps({"import": elapsed, "settings": settings, "models": [m.__name__ for m in models],
                  "xray": "aws_xray_sdk.core" in sys.modules}))
"""


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, str]:
    """The variables the template gives a function (Globals, then its own), resolved; a
    reference to a resource of the stack becomes a name or ARN of the kind AWS returns."""
    resolver = Resolver(template, parameter_values(template, PARAMETERS))
    resources = template["Resources"]
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
    }

    def physical(name: str) -> str:
        if name.startswith("AWS::"):  # a pseudo parameter (AWS::StackName, AWS::Region)
            return {"AWS::StackName": "model-medic", "AWS::Region": "us-east-1"}.get(name, name)
        kind = resources[name]["Type"]
        if kind == "AWS::SNS::Topic":
            return ACCOUNT_ARN.format(service="sns", name=name)
        if kind == "AWS::SSM::Parameter":
            given = resolver.resolve(resources[name]["Properties"].get("Name"))
            return given if isinstance(given, str) else f"/model-medic/{name}"
        return name.lower()

    environment = {}
    for key, value in variables.items():
        resolved = resolver.resolve(value)
        if isinstance(resolved, dict) and set(resolved) == {"Ref"}:
            resolved = physical(resolved["Ref"])
        text = str(resolved)
        for name in resources:  # ${Resource} left in a Fn::Sub
            text = text.replace("${" + name + "}", physical(name))
        environment[key] = text
    return environment


def functions(template: dict[str, Any]) -> dict[str, tuple[str, Path]]:
    """Function folder name -> (logical id, folder), for every functions/*/app.py."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            folder = ROOT / str(resource["Properties"]["CodeUri"]).rstrip("/")
            if (folder / "app.py").exists():
                found[folder.name] = (logical_id, folder)
    missing = {p.parent.name for p in ROOT.glob("functions/*/app.py")} - set(found)
    if missing:
        raise SystemExit(f"functions/*/app.py without a function in template.yaml: {sorted(missing)}")
    return dict(sorted(found.items()))


def run(code: str, folder: Path, environment: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - this interpreter, on code written above
        [sys.executable, "-c", code], cwd=folder, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{folder.name}: {result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(folder: Path, variables: dict[str, str], traced: bool, pairs: int) -> dict[str, Any]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        # Lambda's order: the function's folder, then the layer (/opt/python).
        "PYTHONPATH": os.pathsep.join([str(folder), str(LAYER)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": folder.name,
        **variables,
    }
    if traced:
        environment["LAMBDA_TASK_ROOT"] = str(folder)  # Powertools' sign of running in Lambda
    else:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    run(BASELINE, folder, environment)  # warm-up: byte code written, files in the page cache
    run(HANDLER, folder, environment)
    base, handler, ratios, settings = [], [], [], []
    for pair in range(pairs):
        if pair % 2:
            h, b = run(HANDLER, folder, environment), run(BASELINE, folder, environment)
        else:
            b, h = run(BASELINE, folder, environment), run(HANDLER, folder, environment)
        base.append(b["import"])
        handler.append(h["import"])
        settings.append(h["settings"])
        ratios.append(h["import"] / b["import"])
    return {
        "baseline": median(base),
        "handler": median(handler),
        "ratio": median(ratios),
        "settings": median(settings),
        "models": h["models"],
        "xray": h["xray"],
    }


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else PAIRS
    template = load()
    print(f"Cold start: import of each handler against boto3 + Powertools alone, {pairs} interleaved pairs")
    print("(fresh interpreter per run; medians; target: ratio <= 1.5)\n")
    for traced, title in ((False, "tracing off (POWERTOOLS_TRACE_DISABLED=true)"), (True, "tracing on (Active)")):
        print(f"### {title}\n")
        print("| function | baseline | handler import | ratio | + load_settings | settings model | X-Ray SDK |")
        print("|---|---:|---:|---:|---:|---|---|")
        for name, (logical_id, folder) in functions(template).items():
            found = measure(folder, function_environment(template, logical_id), traced, pairs)
            print(
                f"| {name} | {found['baseline'] * 1000:.0f} ms | {found['handler'] * 1000:.0f} ms "
                f"| {found['ratio']:.2f} | {found['settings'] * 1000:.1f} ms | {', '.join(found['models'])} "
                f"| {'imported' if found['xray'] else 'not imported'} |",
                flush=True,
            )
        print()


if __name__ == "__main__":
    main()
