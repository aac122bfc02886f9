"""Where a message comes from (stack, account, Region) and the console links a person follows."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from model_medic.fleet.alarm_catalog import dashboard_name

# The console's domain per partition (docs/aws-behaviours.md, "Console links"); the standard
# partition has a Regional console. A partition not listed gets no links.
_CONSOLES = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
    "aws-cn": "https://console.amazonaws.cn",
}
# samconfig.toml's stacks are model-medic, model-medic-staging, model-medic-prod: a subject says
# "prod" where it has room for little.
_STACK_PREFIX = "model-medic-"


@dataclass(frozen=True)
class Where:
    """The stack that sends a message: its name, account, Region and partition, and its reports bucket."""

    stack: str = ""
    account: str = ""
    region: str = ""
    partition: str = "aws"
    reports_bucket: str = ""

    @classmethod
    def of(cls, stack: str, arn: str, reports_bucket: str = "") -> Where:
        """From one of the stack's own ARNs (its topic's): `arn:<partition>:<service>:<region>:<account>:...`.
        No STS call, no permission: a topic of the stack lives in the stack's account and Region."""
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return cls(stack=stack, reports_bucket=reports_bucket)
        return cls(stack, parts[4], parts[3], parts[1], reports_bucket)

    @property
    def short(self) -> str:
        """The stack's name as a subject shows it: `prod` for model-medic-prod."""
        rest = self.stack.removeprefix(_STACK_PREFIX)
        return rest or self.stack

    def line(self) -> str:
        return (
            f"Stack {self.stack or '(unnamed)'}, account {self.account or '(unknown)'}, "
            f"Region {self.region or '(unknown)'}"
        )

    def fields(self) -> dict[str, str]:
        """What an event's detail carries of the stack."""
        return {"stack": self.stack, "account": self.account, "region": self.region}

    def console(self, region: str = "") -> str:
        """The console's address for the partition and Region, or "" (a partition without a known console)."""
        template = _CONSOLES.get(self.partition)
        region = region or self.region
        return template.format(region=region) if template and region else ""

    def links(self, endpoint: str, alarm_arn: str = "") -> dict[str, str]:
        """Console links for the endpoint, its alarm (when a CloudWatch alarm is behind the message),
        its dashboard (the alarm manager's) and its reports (the daily report's folder); none
        outside a known partition. Names are URL-encoded."""
        home = self.console()
        if not home:
            return {}
        r = self.region
        found: dict[str, str] = {}
        if endpoint:
            found["endpoint"] = f"{home}/sagemaker/home?region={r}#/endpoints/{_q(endpoint)}"
        alarm = _alarm(alarm_arn)
        if alarm is not None:
            region, name = alarm
            found["alarm"] = f"{self.console(region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{_q(name)}"
        if endpoint and self.stack:
            board = dashboard_name(self.stack, r, endpoint)
            found["dashboard"] = f"{home}/cloudwatch/home?region={r}#dashboards/dashboard/{_q(board)}"
        if self.reports_bucket:
            prefix = f"reports/{endpoint}/" if endpoint else "reports/index/"
            found["reports"] = f"{home}/s3/buckets/{_q(self.reports_bucket)}?region={r}&prefix={_q(prefix)}"
        return found


def _q(name: str) -> str:
    return quote(name, safe="")


def _alarm(arn: str) -> tuple[str, str] | None:
    """(Region, name) of a CloudWatch alarm ARN (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`), else None
    (a rollout's trigger, a sweep's decision)."""
    parts = arn.split(":", 6)
    if len(parts) == 7 and parts[2] == "cloudwatch" and parts[5] == "alarm" and parts[6]:
        return parts[3], parts[6]
    return None
