"""The daily report's message to the info topic: counts by grade, the worst endpoints with their links, pure."""

from __future__ import annotations

from model_medic.report.grading import GRADES, NO_TRAFFIC, EndpointReport, grade_counts, grade_words, worst_first

# A presigned link lives no longer than the credentials that signed it: the function's are
# temporary (docs/aws-behaviours.md, "S3, SNS, KMS and IAM details"), whatever ExpiresIn says.
# So the link asks for one hour, the message says "at most an hour", and every report is also
# given by its S3 location, which does not expire (opened with the reader's own AWS access).
PRESIGNED_SECONDS = 3600

# The summary names this many endpoints, worst first, each with its links (~1.5 KB with a
# presigned URL signed by temporary credentials); the others are counted by grade and listed
# in the index. Whatever the names and URLs, it stops adding endpoints at SUMMARY_MAX_BYTES:
# SNS refuses a message over 262,144 bytes of UTF-8 (message and attributes together; the
# Publish API's Message constraints; topics keep the default MaximumMessageSize, "Publishing
# large messages", Amazon SNS Developer Guide).
SUMMARY_WORST = 20
SNS_MESSAGE_MAX_BYTES = 262_144
SUMMARY_MAX_BYTES = 64 * 1024


def summary(reports: list[EndpointReport], links: list[dict[str, str]], day: str) -> str:
    """Counts by grade, the worst endpoints with their links (at most `SUMMARY_WORST`, and
    within `SUMMARY_MAX_BYTES`), the index's links."""
    urls = {link["endpoint"]: link["url"] for link in links}
    located = {link["endpoint"]: link["s3_uri"] for link in links}
    head = _head(reports, day)
    foot = _foot(located["(index)"], urls["(index)"])
    room = SUMMARY_MAX_BYTES - len("\n".join(head + foot).encode("utf-8")) - 200  # 200: the "more" line
    body: list[str] = []
    for r in worst_first(reports)[:SUMMARY_WORST]:
        entry = _entry(r, located[r.endpoint], urls[r.endpoint])
        size = len("\n".join(entry).encode("utf-8")) + 1
        if size > room:
            break
        room -= size
        body += entry
    listed = len(body) // 3
    if listed < len(reports):
        shown = f"the {listed} worst" if listed else "none"
        body.append(f"({shown} of {len(reports)} listed here; every endpoint is in the index below.)")
    return "\n".join(head + body + foot)


def _head(reports: list[EndpointReport], day: str) -> list[str]:
    counts = grade_counts(reports)
    escalated = sum(i.outcome == "escalated" for r in reports for i in r.incidents)
    return [
        f"Model Medic daily report, {day}",
        "",
        f"{len(reports)} endpoint(s): "
        + ", ".join(f"{counts[g]} {grade_words(g)}" for g in GRADES if g != NO_TRAFFIC or counts[g])
        + (f"; {escalated} incident(s) escalated" if escalated else ""),
        "",
    ]


def _foot(index_location: str, index_url: str) -> list[str]:
    return [
        "",
        f"All endpoints, worst first: {index_location}",
        f"  {index_url}",
        "",
        f"The https links work for at most {PRESIGNED_SECONDS // 3600} hour after this message: they are signed "
        "with the report function's temporary credentials, which can expire sooner. The s3:// locations do not "
        f"expire (open them with your own AWS access; reports are kept for the bucket's retention).",
    ]


def _entry(r: EndpointReport, location: str, url: str) -> list[str]:
    """One endpoint's three lines: its day in figures, its S3 location and its link."""
    rate = "n/a" if r.error_rate is None else f"{r.error_rate:.2f}%"
    latency = "n/a" if r.avg_latency_ms is None else f"{r.avg_latency_ms:.0f} ms"
    acted = sum(d["result"] == "acted" for d in r.decisions)
    graded = "no traffic" if r.grade == NO_TRAFFIC else f"grade {r.grade}"
    return [
        f"{r.endpoint}: {graded} - {r.invocations:,.0f} invocations, error rate {rate}, "
        f"latency {latency}, {acted} action(s)",
        f"  {location}",
        f"  {url}",
    ]
