"""Which endpoints Model Medic may act on: those named in the stack, and those carrying the
discovery tag. Anything else an alarm names is a recorded skip, never an action."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from model_medic import aws


def tagged_endpoints(sagemaker: Any, tag: str) -> list[str]:
    """InService endpoints carrying the tag "key=value" (one ListTags call per endpoint)."""
    key, _, value = tag.partition("=")
    found = []
    for page in sagemaker.get_paginator("list_endpoints").paginate(StatusEquals="InService"):
        for endpoint in page.get("Endpoints", []):
            tags = sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
            if any(t["Key"] == key and t["Value"] == value for t in tags):
                found.append(endpoint["EndpointName"])
    return found


class Scope:
    def __init__(self, sagemaker: Any, named: list[str], discovery_tag: str = "") -> None:
        self._sagemaker = sagemaker
        self._named = list(named)
        self._tag = discovery_tag

    def endpoints(self) -> list[str]:
        """Every endpoint in scope now: the named ones and the tagged InService ones."""
        tagged = tagged_endpoints(self._sagemaker, self._tag) if self._tag else []
        return sorted(set(self._named) | set(tagged))

    def contains(self, endpoint: str) -> tuple[bool, str]:
        """Whether the endpoint is in scope, and why not."""
        if endpoint in self._named:
            return True, "named in EndpointNames"
        if not self._tag:
            return False, f"endpoint {endpoint} is not in scope (not named in EndpointNames)"
        key, _, value = self._tag.partition("=")
        try:
            arn = self._sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
            tags = self._sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return False, f"endpoint {endpoint} is not in scope ({aws.error_code(error)})"
        if any(t["Key"] == key and t["Value"] == value for t in tags):
            return True, f"tagged {self._tag}"
        return False, f"endpoint {endpoint} is not in scope (not named, no tag {self._tag})"
