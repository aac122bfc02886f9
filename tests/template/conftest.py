"""The template, as written and as the SAM transform turns it into CloudFormation."""

import copy
from typing import Any

import pytest
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

from localcloud import template

# Two endpoints, so that the per-endpoint alarms are checked for more than one.
PARAMETERS = {
    "EndpointNames": "churn-prod,fraud-prod",
    "AlertEmail": "oncall@example.com",
    "DataCaptureS3Uri": "s3://churn-ml/datacapture",
    "BaselineS3Uri": "s3://churn-ml/baselines",
    "GroundTruthS3Uri": "s3://churn-ml/groundtruth",
}


class _NoManagedPolicies:
    """The transform asks IAM for managed policy ARNs only when a template names one by name."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def source() -> dict[str, Any]:
    """The template as written."""
    return template.load()


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` leaves it: local code paths become S3 URIs."""
    result = copy.deepcopy(template)
    for resource in result["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged-artifacts/{properties[key].strip('/')}.zip"
        if resource["Type"] == "AWS::Serverless::Application" and isinstance(properties.get("Location"), str):
            properties["Location"] = f"https://s3.amazonaws.com/packaged-artifacts/{properties['Location']}"
    return result


@pytest.fixture(scope="session")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    # The transform needs a region for the ARNs it writes; this fixture outlives the per-test env.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        try:
            return transform(packaged(source), PARAMETERS, _NoManagedPolicies())  # type: ignore[no-any-return]
        except InvalidDocumentException as error:
            pytest.fail("SAM transform failed: " + "; ".join(str(cause) for cause in error.causes))


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}
