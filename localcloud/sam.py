"""template.yaml as `sam package` leaves it and as the SAM transform turns it into CloudFormation.

What the template tests read and what `make security` gives checkov: the transformed template
is what CloudFormation deploys - the function roles, event invoke configs, permissions, rules
and subscriptions that SAM generates exist only there, and Globals are merged into each
function. Offline: the transform asks IAM for managed policy ARNs only when a template names
one by name, and this one names none.

    python -m localcloud.sam OUT.json   # the transformed template, with EXAMPLE_PARAMETERS
"""

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform

from localcloud import template

# Two endpoints, so that what is per endpoint is seen for more than one.
EXAMPLE_PARAMETERS = {
    "EndpointNames": "churn-prod,fraud-prod",
    "AlertEmail": "oncall@example.com",
    "DataCaptureS3Uri": "s3://churn-ml/datacapture",
    "BaselineS3Uri": "s3://churn-ml/baselines",
    "GroundTruthS3Uri": "s3://churn-ml/groundtruth",
}


class NoManagedPolicies:
    """The transform's managed-policy loader, for a template that names no managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


def packaged(source: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` leaves it: local code paths become S3 URIs."""
    result = copy.deepcopy(source)
    for resource in result["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged-artifacts/{properties[key].strip('/')}.zip"
        if resource["Type"] == "AWS::Serverless::Application" and isinstance(properties.get("Location"), str):
            properties["Location"] = f"https://s3.amazonaws.com/packaged-artifacts/{properties['Location']}"
    return result


def transformed(source: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The SAM transform of the packaged template (it needs a Region for the ARNs it writes)."""
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = saved or "us-east-1"
    try:
        return transform(packaged(source), parameters, NoManagedPolicies())  # type: ignore[no-any-return]
    finally:
        if saved is None:
            del os.environ["AWS_DEFAULT_REGION"]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m localcloud.sam OUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(transformed(template.load(), EXAMPLE_PARAMETERS), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
