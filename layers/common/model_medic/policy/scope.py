"""Which endpoints Model Medic may act on: those named in the stack, and those carrying the
discovery tag. Anything else an alarm names is a recorded skip, never an action."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from model_medic.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_sagemaker import SageMakerClient


def tagged_endpoints(sagemaker: SageMakerClient, tagging: ResourceGroupsTaggingAPIClient, tag: str) -> list[str]:
    """Live endpoints carrying the tag "key=value" (batched: see `fleet`)."""
    return list(fleet(sagemaker, tagging, [], tag))


class Scope:
    """The stack's scope for one invocation; the tags it reads are kept (`tags`), so that an
    endpoint's policy (`policy.py`) costs no call of its own."""

    def __init__(
        self,
        sagemaker: SageMakerClient,
        named: list[str],
        discovery_tag: str = "",
        tagging: ResourceGroupsTaggingAPIClient | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._named = list(named)
        self._tag = discovery_tag
        self._tagging = tagging  # the Resource Groups Tagging API client; needed with a discovery tag
        self._tags: dict[str, dict[str, str]] = {}  # endpoint -> its tags, as read in this invocation
        self._listed: dict[str, dict[str, str]] = {}  # live endpoints -> their tags, as `endpoints` read them
        self._described: dict[str, dict[str, Any]] = {}  # endpoint -> its DescribeEndpoint answer, this invocation

    def endpoints(self) -> list[str]:
        """Every endpoint in scope now: the named ones and the tagged live ones, with their
        tags (one batched read, `fleet`)."""
        if self._tagging is None:
            return sorted(set(self._named))
        found = fleet(self._sagemaker, self._tagging, self._named, self._tag, self._listed)
        self._tags.update(found)
        return list(found)

    def tags(self, endpoint: str) -> dict[str, str]:
        """The endpoint's tags: as read by `endpoints` or `contains`, else one DescribeEndpoint
        and ListTags (an endpoint that cannot be read has none: the stack's policy)."""
        if endpoint not in self._tags:
            self._tags[endpoint] = self._read_tags(endpoint) or {}
        return self._tags[endpoint]

    def contains(self, endpoint: str) -> tuple[bool, str]:
        """Whether the endpoint is in scope, and why not: from its tags as `endpoints` listed them
        in this invocation, else as read now (DescribeEndpoint, ListTags)."""
        if endpoint in self._named:
            return True, "named in EndpointNames"
        if not self._tag:
            return False, f"endpoint {endpoint} is not in scope (not named in EndpointNames)"
        key, _, value = self._tag.partition("=")
        if endpoint in self._listed:  # listed live with its tags by `endpoints` in this invocation
            self._tags[endpoint] = self._listed[endpoint]
        else:
            try:
                tags = self._read_tags(endpoint, quiet=False)
            except ClientError as error:
                if aws.is_transient(error):
                    raise
                return False, f"endpoint {endpoint} is not in scope ({aws.error_code(error)})"
            assert tags is not None
            self._tags[endpoint] = tags
        if self._tags[endpoint].get(key) == value:
            return True, f"tagged {self._tag}"
        return False, f"endpoint {endpoint} is not in scope (not named, no tag {self._tag})"

    def description(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's DescribeEndpoint answer, read once per invocation (ClientError raised)."""
        if endpoint not in self._described:
            answer = self._sagemaker.describe_endpoint(EndpointName=endpoint)
            self._described[endpoint] = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
        return self._described[endpoint]

    def _read_tags(self, endpoint: str, quiet: bool = True) -> dict[str, str] | None:
        """DescribeEndpoint + ListTags; a permanent error is None (quiet) or raised, a transient one raised."""
        try:
            arn = self.description(endpoint)["EndpointArn"]
            tags = self._sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
        except ClientError as error:
            if aws.is_transient(error) or not quiet:
                raise
            return None
        return {t["Key"]: t["Value"] for t in tags}


# Endpoints in these states have no alarms: not yet serving, failed to start, or going away.
# Every other state keeps them - an endpoint Updating (Model Medic scaling it, say) still
# needs its alarms.
_UNWATCHED = frozenset({"Creating", "Failed", "Deleting"})


def live_status(status: str) -> str:
    """An endpoint status as DescribeEndpoint spells it: EventBridge's state-change events say
    IN_SERVICE, DELETING, ...; the API says InService, Deleting, ..."""
    if "_" in status or status.isupper():
        return "".join(part.capitalize() for part in status.split("_"))
    return status


def fleet(
    sagemaker: SageMakerClient,
    tagging: ResourceGroupsTaggingAPIClient,
    named: list[str],
    discovery_tag: str = "",
    listed: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Every endpoint in scope with its tags: the named ones (whether or not they exist yet)
    and every live endpoint carrying the discovery tag. `listed` (if given) receives every
    live endpoint whose tags were read, in scope or not, with its tags.

    Batched: ListEndpoints in pages of 100 and the Resource Groups Tagging API's GetResources
    in pages of 100 (one page holds the tags of 100 endpoints), never a ListTags or
    DescribeEndpoint per endpoint. GetResources lists only resources that have (or had) tags.
    """
    live: dict[str, str] = {}  # endpoint ARN -> name
    for page in sagemaker.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": 100}):
        for endpoint in page.get("Endpoints", []):
            if endpoint.get("EndpointStatus") not in _UNWATCHED:
                live[endpoint["EndpointArn"]] = endpoint["EndpointName"]
    tags_by_name: dict[str, dict[str, str]] = {}
    # PageSize is the paginator's name for ResourcesPerPage: the request is the same.
    for page in tagging.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["sagemaker:endpoint"], PaginationConfig={"PageSize": 100}
    ):
        for resource in page.get("ResourceTagMappingList", []):
            name = live.get(resource["ResourceARN"])
            if name is not None:
                tags_by_name[name] = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
    if listed is not None:
        listed.update(tags_by_name)
    key, _, value = discovery_tag.partition("=")
    found = {name: tags for name, tags in tags_by_name.items() if discovery_tag and tags.get(key) == value}
    for name in named:
        found[name] = tags_by_name.get(name, {})
    return dict(sorted(found.items()))
