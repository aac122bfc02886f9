"""Why orjson is in the layer: the drift benchmark with the standard `json` module in its
place (`python -m benchmarks.drift_json_library json`) and as shipped (`... orjson`)."""

import json
import runpy
import sys
import types


def main() -> None:
    library = sys.argv[1] if len(sys.argv) > 1 else "orjson"
    if library == "json":
        import model_medic.measure.capture_sample as capture_sample
        import model_medic.measure.records as records

        shim = types.SimpleNamespace(
            loads=json.loads, dumps=lambda value: json.dumps(value).encode(), JSONDecodeError=ValueError
        )
        setattr(capture_sample, "orjson", shim)  # noqa: B010 - the module attribute the drift sample reads
        setattr(records, "orjson", shim)  # noqa: B010
    print(f"JSON library: {library}")
    sys.argv = [sys.argv[0]]
    runpy.run_module("benchmarks.compute_drift", run_name="__main__")


if __name__ == "__main__":
    main()
