"""What people read: a subject that fits on a phone; a body saying where, what was tried, what next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from model_medic.tell.where import Where

if TYPE_CHECKING:
    from model_medic.tell.outcome import Outcome

# SNS refuses a subject over 100 characters; a phone's lock screen shows about 60.
SUBJECT_LIMIT = 100
PHONE = 60

_VERBS = {
    "acted": "did",
    "dry-run": "would have done (dry run, nothing changed)",
    "skipped": "skipped",
    "bound-reached": "stopped at a bound",
    "failed": "FAILED",
    "recovered": "saw a recovery after",
    "escalated": "ESCALATES (the remediation did not help)",
    "stopped": "stopped",
}
_LINKS = (("endpoint", "Endpoint"), ("alarm", "Alarm"), ("dashboard", "Dashboard"), ("reports", "Reports"))


def subject(outcome: Outcome, where: Where) -> str:
    """`[CRITICAL] prod escalated scale-up fraud-prod`: severity, stack, result, action, endpoint;
    the action is left out first, then the end cut, to fit on a phone."""
    head = [f"[{outcome.severity.upper()}]", where.short, outcome.result]
    return fit([*head, outcome.action, outcome.endpoint], [*head, outcome.endpoint])


def sms(outcome: Outcome, where: Where) -> str:
    """A text message: the subject and why, in one SMS (140 ASCII characters)."""
    return fit([subject(outcome, where), "-", outcome.reason], limit=140)


def plain_subject(severity: str, text: str, where: Where) -> str:
    """A plain message's subject (an alert, a reminder, the daily report): severity and stack first.
    Its words are its sender's (a measuring job's cause in parentheses): kept whole up to SNS's
    limit rather than cut on a phone."""
    said = text.removeprefix("Model Medic").lstrip(":").strip() or text
    return fit([f"[{severity.upper()}]", where.short, said], limit=SUBJECT_LIMIT)


def fit(*choices: list[str], limit: int = PHONE) -> str:
    """The first choice of words that fits in `limit`, else the last cut to it; ASCII printable only
    (SNS refuses control characters and non-ASCII in a subject)."""
    line = ""
    for words in choices:
        line = ascii_line(" ".join(w for w in words if w))
        if len(line) <= limit:
            return line
    return line[: limit - 1] + "~"


def ascii_line(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def body(outcome: Outcome, where: Where) -> str:
    """The e-mail: what happened and where (stack, account, Region), what was tried, the mode and
    incident, what to do next, then the console links."""
    headline = f"Model Medic {_VERBS[outcome.result]}: {outcome.action} on endpoint {outcome.endpoint}."
    lines = [headline, where.line(), ""]
    lines.append(f"What happened: {outcome.reason}")
    if outcome.alarm_name:
        lines.append(f"Alarm: {outcome.alarm_name} went to {outcome.state} at {outcome.transition.rsplit('|', 1)[-1]}")
    tried = tried_lines(outcome)
    if tried:
        lines += ["Tried:"] + [f"  - {step}" for step in tried]
    lines.append(f"Mode: {outcome.mode or '-'}")
    if outcome.incident:
        lines.append(f"Incident: {outcome.incident}")
    details = {k: v for k, v in outcome.changes.items() if k != "tried"}
    if details:
        lines += ["", "Details:"] + [f"  {key}: {value}" for key, value in details.items()]
    lines += ["", f"Next: {next_step(outcome)}"]
    if outcome.incident:
        digest = outcome.incident.rsplit("#", 1)[-1]
        lines.append(f"  model-medic --stack {where.stack} --region {where.region} explain {digest}")
    return "\n".join([*lines, "", *footer(where, outcome.endpoint, outcome.alarm_arn)[1:]])


def plain_body(text: str, where: Where, endpoint: str = "") -> str:
    """A plain message's text with where it comes from and the endpoint's links."""
    return "\n".join([text, "", *footer(where, endpoint)])


def footer(where: Where, endpoint: str, alarm_arn: str = "") -> list[str]:
    """Where the message comes from, then a line per console link."""
    links = where.links(endpoint, alarm_arn)
    lines = [where.line()]
    lines += [f"{label + ':':<11}{links[key]}" for key, label in _LINKS if key in links]
    if not links and where.partition not in ("aws", "aws-us-gov", "aws-cn"):
        lines.append(f"(no console links: partition {where.partition})")
    return lines


def tried_lines(outcome: Outcome) -> list[str]:
    """What was tried: the steps an escalation lists; nothing, where a bound stopped the first."""
    tried = outcome.changes.get("tried")
    if isinstance(tried, list) and tried:
        return [str(step) for step in tried]
    if outcome.result == "bound-reached" or (outcome.result == "stopped" and outcome.gate == "bound"):
        return ["nothing was changed"]
    return []


def next_step(outcome: Outcome) -> str:
    """What a person should look at next, by result (and action, where it matters)."""
    result, action = outcome.result, outcome.action
    if result == "escalated":
        if action == "rollout":
            return (
                "the rollout stopped after changing the endpoint; the canary keeps the share it has. Look at "
                "the canary's figures on the dashboard, then walk it on or roll it back yourself."
            )
        return (
            "the alarm is still in ALARM after what was tried, and Model Medic will not act again in this "
            "incident. Look at the model and the traffic on the dashboard; if more of the same would help, "
            "raise the bound (the endpoint's model-medic: tag or the stack's parameter)."
        )
    if result == "bound-reached":
        return (
            "nothing was changed: a bound stopped the first step. Raise the bound named above (the endpoint's "
            "model-medic: tag or the stack's parameter) or look at the model and its traffic."
        )
    if result == "failed":
        return (
            "a change did not take or AWS refused it (the error is above). Check the endpoint's status and "
            "events in the SageMaker console and the function's logs; this incident is not tried again."
        )
    if result == "stopped":
        if outcome.gate == "bound":
            return (
                "nothing on the endpoint changed; the serving model keeps serving. If the candidate should "
                "be deployed, fix what the reason names, then approve it again."
            )
        return "someone changed the endpoint outside Model Medic; it no longer walks this rollout. Check who did."
    return _routine(outcome)


def _routine(outcome: Outcome) -> str:
    if outcome.result == "dry-run":
        return "nothing was changed (dry run). Switch the mode to enforce once you trust these decisions."
    if outcome.result == "recovered":
        return "nothing to do."
    if outcome.action == "rollback":
        return "the model was rolled back: find out why before the pipeline deploys it again."
    if outcome.action == "start-retraining":
        return "follow the pipeline's execution in SageMaker; Model Medic reads its verdict."
    if outcome.action == "rollout":
        if outcome.critical:
            return "a canary was rolled back or a candidate Rejected: find out why before it is approved again."
        return "nothing yet: the rollout goes on by itself; the dashboard shows the canary against the primary."
    return "nothing yet; Model Medic checks the change took and tells you if the alarm stays in ALARM."
