"""Remediations as declared units: what each one handles, needs and changes, in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    from model_medic.platform.settings import ActionSettings
    from model_medic.store.incidents import Incident

# What a unit needs of the endpoint before it plans: InService (a change is possible now),
# or only that the endpoint exists (retraining does not touch it).
EndpointRequirement = Literal["InService", "exists"]
# What the loop checks after acting: the alarm back to OK within the window, the
# retraining pipeline's own verdict, or (a rollout) nothing at once: each step is judged
# again on the next evaluation, and a change that `ends` the rollout closes it.
Effect = Literal["alarm-ok", "pipeline-succeeded", "next-step"]
# What reading AWS back says about one change.
Seen = Literal["in-flight", "took", "not-applied", "failed"]
# What the value a change asked for reads back as (`read_back`): what was asked, more than was
# asked (a person gave more), something else a person set, or the change not taken.
ReadBack = Literal["took", "person-gave-more", "person-changed-other", "did-not-take"]
# Each change class by its kind (`Change.__init_subclass__`), to read a stored step back.
_KINDS: dict[str, type[Change]] = {}


@dataclass(frozen=True)
class Change:
    """One single AWS change of a plan; subclasses are the typed changes of each unit."""

    kind: ClassVar[str] = "change"
    # A change that ends the incident once it took ("complete", "rolled back"); next-step units only.
    ends: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each kind names one class: how a stored step finds its changes' types again (`change_of`)."""
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:  # StoredChange declares none
            known = _KINDS.get(cls.kind)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"change kind {cls.kind!r} is declared twice: {known.__qualname__}, {cls.__qualname__}")
            _KINDS[cls.kind] = cls

    def describe(self) -> str:
        raise NotImplementedError

    def settled(self, at: datetime) -> dict[str, Any]:
        """What the incident remembers once this change took (its `facts`); nothing by default."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Plan:
    """What a unit would do now, decided read-only from the incident and AWS.

    `skip` names a precondition that can clear (looked at again by the sweep), `bound` a
    limit that stops any further action in this incident, `ends` an incident over as it
    stands, with nothing to change (`summary` says why; next-step units only: a rollout whose
    endpoint was changed outside Model Medic is complete, or stopped); with none of them,
    `changes` are the single AWS changes to make, one after the other, each waited for.
    """

    summary: str
    changes: tuple[Change, ...] = ()
    skip: str | None = None
    bound: str | None = None
    critical: bool = False  # a person must hear of the act at once (a rollback)
    notes: dict[str, Any] = field(default_factory=dict)  # read-only findings worth recording
    gate: str = "precondition"  # the gate a skip is recorded under (a critical skip is told once per gate)
    facts: dict[str, Any] = field(default_factory=dict)  # what the incident remembers of a skip (a verdict)
    ends: Literal["complete", "stopped"] | None = None


@dataclass(frozen=True)
class Observation:
    """What AWS shows of a change: still in flight, taken, never applied, or failed."""

    seen: Seen
    detail: str
    # A person's change found on the way (what, what was asked, what they set): the change
    # counts as taken, and the person's value is theirs (docs/rooms/control.md, "People win").
    person: str = ""
    # The person's value stands in place of the one asked (a weight, a config): nothing more of
    # the step, nor of the rollout, is made over it.
    stops: bool = False


def just_called(seen: Observation) -> Observation:
    """Pure: what the read-back right after a change's call concludes. AWS sets an endpoint (or
    component) Updating when it receives the request and shows the values asked once it is
    InService again, but does not say how soon DescribeEndpoint shows that it started: the same
    invocation may still read it InService, or Updating, with the old values. So a read-back
    then concludes only that the change took or is under way; anything else waits for the next
    look, which concludes from what AWS shows by then (docs/aws-behaviours.md, "SageMaker APIs")."""
    if seen.seen in ("took", "in-flight"):
        return seen
    return Observation("in-flight", f"just called, AWS may not show it yet ({seen.detail}): read back at the next look")


# An endpoint's (or inference component's) statuses while a change is under way: the values it
# shows then are not yet the ones it settles on (the `EndpointStatus` enum, service-2.json).
CHANGING = frozenset({"Updating", "SystemUpdating"})


def unsettled(called: bool, status: str, detail: str) -> Observation:
    """Pure: a value read back as not (yet) the one asked. Once the change was called, an endpoint
    or component still changing (`CHANGING`) is the change under way, not a change not taken: only
    a settled one says that. Before the call, it is not made yet."""
    if called and status in CHANGING:
        return Observation("in-flight", f"{status}, not showing the value asked yet: {detail}")
    return Observation("not-applied", detail)


def read_back(before: Any, asked: Any, observed: Any, ordered: bool = False) -> ReadBack:
    """Pure: what AWS shows of the value a change asked for (`before`: the value it changed).
    `ordered`: a change that asks for more (a floor, an instance count), so that more than asked
    is a person's giving more and less is the change not taken; otherwise any third value is a
    person's change. Nothing there (None) is the change not taken."""
    if observed == asked:
        return "took"
    if observed is None:
        return "did-not-take"
    if ordered:
        return "person-gave-more" if observed > asked else "did-not-take"
    return "did-not-take" if observed == before else "person-changed-other"


@dataclass(frozen=True)
class RemediationUnit:
    """The declaration of one remediation."""

    name: str  # the action's name in the ledger, messages and events
    function: str  # the template's logical ID of the function that runs it
    states: frozenset[str]  # alarm states it handles (OK closes the incident)
    requires: EndpointRequirement
    alarm_suffixes: tuple[str, ...]  # the stack's alarms that trigger it: <endpoint>-<suffix>
    iam_actions: frozenset[str]  # what its function's role must allow, beyond the ledger and telling
    effect: Effect
    verify_minutes_setting: str | None  # the settings field holding the verification window (alarm-ok)
    settings: type[ActionSettings]
    changes: tuple[type[Change], ...]  # the typed changes its plans are made of
    max_steps: int | None = None  # actions per incident; None: until the unit's own bound
    budgeted: bool = True  # takes a unit of the endpoint's hourly action budget
    # The stack's inference-component alarms that trigger it: <endpoint>-<component>-<suffix>.
    component_alarm_suffixes: tuple[str, ...] = ()


class Action(Protocol):
    """A unit's implementation: read-only `plan`, one-change `execute`, read-back `observe`."""

    unit: RemediationUnit
    cooldown: timedelta

    def plan(self, incident: Incident, endpoint: dict[str, Any]) -> Plan:
        """What to do now, read-only: from the incident (its alarm's name, metric, dimensions and
        opening) and the endpoint as DescribeEndpoint shows it."""
        ...

    def execute(self, endpoint: str, change: Change, incident: Incident) -> dict[str, Any]:
        """Make exactly this one change; returns what AWS said (merged into the record)."""
        ...

    def adopt(self, endpoint: str, change: Change, incident: Incident) -> None:
        """Record what `execute` records after its call, for a change found made (its answer lost)."""
        ...

    def observe(self, endpoint: str, change: Change, described: dict[str, Any], result: dict[str, Any]) -> Observation:
        """Read back what the change did: the endpoint as DescribeEndpoint shows it now, and
        what `execute` returned (empty when it was not called, or its record was lost)."""
        ...

    def rehearse(self, endpoint: str, changes: tuple[Change, ...], incident: Incident) -> None:
        """Record what a dry run's would-be step leaves for later, changing nothing in AWS (a
        scale-up's shadow boosts, which the dry-run give-back walks back); most units keep nothing."""
        ...


@dataclass(frozen=True)
class StoredChange(Change):
    """A change of a kind this function does not define (the daily report reads every unit's
    incidents without importing each unit): kept exactly as stored, described, never made."""

    data: dict[str, Any]

    def describe(self) -> str:
        return f"{self.data.get('kind')} change"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.data)


def change_of(data: dict[str, Any]) -> Change:
    """The typed change from its ledger form (`Change.as_dict`), by its kind."""
    known = _KINDS.get(str(data.get("kind")))
    if known is None:
        return StoredChange(dict(data))
    return known(**{k: v for k, v in data.items() if k != "kind"})


def variant_label(role: str, name: str) -> str:
    """How messages name a variant in its role: `canary blue` - or the name alone when it says its
    role already (`canary`, `churn-canary`), never "canary canary"."""
    return name if role in name.lower() else f"{role} {name}"


def package_label(arn: str) -> str:
    """`group/3` from a versioned model package ARN (the ARN itself otherwise): how changes
    and reports name a model package."""
    return arn.split(":model-package/", 1)[-1]
