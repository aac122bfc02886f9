"""The template, as written and as the SAM transform turns it into CloudFormation."""

from typing import Any

import pytest
from samtranslator.model.exceptions import InvalidDocumentException

from localcloud import sam, template

PARAMETERS = sam.EXAMPLE_PARAMETERS
packaged = sam.packaged


@pytest.fixture(scope="session")
def source() -> dict[str, Any]:
    """The template as written."""
    return template.load()


@pytest.fixture(scope="session")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    try:
        return sam.transformed(source, PARAMETERS)
    except InvalidDocumentException as error:
        pytest.fail("SAM transform failed: " + "; ".join(str(cause) for cause in error.causes))


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}
