"""What CloudWatch holds of the stack: its alarms (by tag and by name) and its dashboards, read in pages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.fleet.alarm_catalog import STACK_TAG
from model_medic.fleet.patience import Patience
from model_medic.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

PAGE = 100  # DescribeAlarms takes at most 100 names; DeleteAlarms at most 100 (CloudWatch API reference)


@dataclass(frozen=True)
class StackPlace:
    """Where the stack's alarms live: its name (their tag), its Region, and the ARN prefix
    of its alarms, `arn:<partition>:cloudwatch:<region>:<account>:alarm:`."""

    stack: str
    region: str
    alarm_arn_prefix: str


class Holdings:
    """The reads: each call asked again on transient errors (`Patience`), each listing paged."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        tagging: ResourceGroupsTaggingAPIClient,
        place: StackPlace,
        patience: Patience,
    ) -> None:
        self._cw = cloudwatch
        self._tagging = tagging
        self._stack = place.stack
        self._arn_prefix = place.alarm_arn_prefix
        self._patience = patience

    def owned(self) -> dict[str, str]:
        """The stack's alarms (name -> ARN) by their stack tag, 100 a page. The tagging API's
        index, not CloudWatch itself: `describe` says which of them CloudWatch holds."""
        owned: dict[str, str] = {}
        kwargs: dict[str, Any] = {
            "ResourceTypeFilters": ["cloudwatch:alarm"],
            "TagFilters": [{"Key": STACK_TAG, "Values": [self._stack]}],
            "ResourcesPerPage": PAGE,
        }
        while True:
            page = self._patience.call("GetResources", partial(self._tagging.get_resources, **kwargs))
            for resource in page.get("ResourceTagMappingList", []):
                arn = resource["ResourceARN"]
                if arn.startswith(self._arn_prefix):
                    owned[arn[len(self._arn_prefix) :]] = arn
            if not page.get("PaginationToken"):
                return owned
            kwargs = {**kwargs, "PaginationToken": page["PaginationToken"]}

    def owned_of(self, arns: list[str]) -> dict[str, str]:
        """Which of these alarms carry the stack's tag (one GetResources call per 100 ARNs)."""
        owned: dict[str, str] = {}
        for start in range(0, len(arns), PAGE):
            batch = arns[start : start + PAGE]
            # ResourceARNList takes no pagination parameters (GetResources API reference).
            page = self._patience.call("GetResources", partial(self._tagging.get_resources, ResourceARNList=batch))
            for resource in page.get("ResourceTagMappingList", []):
                tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
                arn = resource["ResourceARN"]
                if tags.get(STACK_TAG) == self._stack and arn.startswith(self._arn_prefix):
                    owned[arn[len(self._arn_prefix) :]] = arn
        return owned

    def describe(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The metric alarms of these names that CloudWatch holds, 100 names a call."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), PAGE):
            found.update(
                self._pages(
                    {"AlarmNames": names[start : start + PAGE], "AlarmTypes": ["MetricAlarm"], "MaxRecords": PAGE}
                )
            )
        return found

    def describe_prefix(self, prefix: str) -> dict[str, dict[str, Any]]:
        return self._pages({"AlarmNamePrefix": prefix, "AlarmTypes": ["MetricAlarm"], "MaxRecords": PAGE})

    def _pages(self, kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while True:
            page = self._patience.call("DescribeAlarms", partial(self._cw.describe_alarms, **kwargs))
            # Kept as plain mappings: compared field by field with PutMetricAlarm requests (`drift`).
            found.update({a["AlarmName"]: cast("dict[str, Any]", a) for a in page.get("MetricAlarms", [])})
            if not page.get("NextToken"):
                return found
            kwargs = {**kwargs, "NextToken": page["NextToken"]}

    def dashboards(self, prefix: str) -> dict[str, int]:
        """The stack's dashboards by name prefix, with the size of each body."""
        found: dict[str, int] = {}
        kwargs: dict[str, Any] = {"DashboardNamePrefix": prefix}
        while True:
            page = self._patience.call("ListDashboards", partial(self._cw.list_dashboards, **kwargs))
            found.update({d["DashboardName"]: int(d.get("Size", -1)) for d in page.get("DashboardEntries", [])})
            if not page.get("NextToken"):
                return found
            kwargs = {**kwargs, "NextToken": page["NextToken"]}

    def same_dashboard(self, name: str, body: str) -> bool:
        """Whether the dashboard holds this body (False when it is gone)."""
        try:
            stored = self._patience.call("GetDashboard", partial(self._cw.get_dashboard, DashboardName=name))
        except ClientError as error:
            if aws.is_transient(error):
                raise
            return False
        return bool(json.loads(stored["DashboardBody"]) == json.loads(body))
