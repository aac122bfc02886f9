"""DailyReportFunction's job: each endpoint's last 24 hours written as HTML and JSON, indexed and told."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from model_medic.platform.observability import logger
from model_medic.report import keys
from model_medic.report import summary as message
from model_medic.report.gather import DayReader
from model_medic.report.grading import EndpointReport
from model_medic.report.pages import Pages
from model_medic.report.summary import PRESIGNED_SECONDS
from model_medic.store.episodes import Episodes
from model_medic.store.incidents import Incidents
from model_medic.store.journal import Journal
from model_medic.tell.outcome import Where

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.tell.outcome import Notifier


class DailyReport:
    """The day's reports: read (`DayReader`), rendered (`Pages`; `where`: the stack's Region and
    partition, for its console links), written to the reports bucket with their links, and summed
    up (`summary.summary`)."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        sagemaker: SageMakerClient,
        s3: S3Client,
        ledger: Journal,
        bucket: str,
        *,
        incidents: Incidents,
        episodes: Episodes | None = None,
        where: Where | None = None,
    ) -> None:
        self._reader = DayReader(cloudwatch, sagemaker, ledger, incidents, episodes)
        self._pages = Pages(where or Where())
        self._s3 = s3
        self._bucket = bucket

    def build(self, endpoints: list[str], end: datetime) -> list[EndpointReport]:
        return self._reader.build(endpoints, end)

    def render(self, report: EndpointReport) -> str:
        return self._pages.render(report)

    def render_index(self, reports: list[EndpointReport], day: str, links: Mapping[str, str]) -> str:
        """The day's index; `links`: each endpoint's page's presigned URL, by endpoint."""
        return self._pages.render_index(reports, day, links)

    def publish(self, reports: list[EndpointReport], day: str) -> list[dict[str, str]]:
        """Each endpoint's page and JSON, and the day's index, with their links. The index links
        each page by its own presigned URL: people open the index by a presigned link, and a
        relative link from it would drop the signature, which the bucket (public access
        blocked) refuses without."""
        written = []
        for report in reports:
            base = f"{keys.endpoint_folder(report.endpoint)}{report.day}"
            self._put(f"{base}.html", self.render(report), "text/html; charset=utf-8")
            self._put(f"{base}.json", json.dumps(report.as_dict(), indent=2, default=str), "application/json")
            written.append(
                {
                    "endpoint": report.endpoint,
                    "html": f"{base}.html",
                    "json": f"{base}.json",
                    **self._links(f"{base}.html"),
                }
            )
        pages = {link["endpoint"]: link["url"] for link in written}
        index_key = keys.index_page(day)
        self._put(index_key, self.render_index(reports, day, pages), "text/html; charset=utf-8")
        written.append({"endpoint": "(index)", "html": index_key, "json": "", **self._links(index_key)})
        return written

    def summary(self, reports: list[EndpointReport], links: list[dict[str, str]], day: str) -> str:
        """The message to the info topic (`summary.summary`)."""
        return message.summary(reports, links, day)

    def _put(self, key: str, body: str, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)

    def _links(self, key: str) -> dict[str, str]:
        """The report's S3 location (lasting) and a presigned https link (at most an hour)."""
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
        )
        return {"s3_uri": f"s3://{self._bucket}/{key}", "url": str(url), "expires_in_seconds": str(PRESIGNED_SECONDS)}


def daily(job: DailyReport, endpoints: list[str], end: datetime, notifier: Notifier) -> dict[str, Any]:
    """DailyReportFunction: the reports of the day before `end` written, indexed and told."""
    reports = job.build(endpoints, end)
    day = reports[0].day if reports else end.strftime("%Y-%m-%d")
    links = job.publish(reports, day)
    notifier.inform(f"Model Medic daily report {day}", job.summary(reports, links, day))
    logger.info("daily report written", day=day, endpoints=len(reports))
    return {"day": day, "grades": {r.endpoint: r.grade for r in reports}, "written": links}
