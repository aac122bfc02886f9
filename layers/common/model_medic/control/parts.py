"""What every room of one unit's control loop works with, built once per invocation by `wiring.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sagemaker import SageMakerClient

    from model_medic.platform.clock import Clock
    from model_medic.policy.policies import ModeSwitch, Scope
    from model_medic.remediate.units import Action, RemediationUnit
    from model_medic.store.claims import Claims
    from model_medic.store.episodes import Episodes
    from model_medic.store.incidents import Incidents
    from model_medic.store.journal import Journal
    from model_medic.tell.courier import Courier
    from model_medic.tell.paging import PagingRules


@dataclass(frozen=True)
class Parts:
    """One remediation unit's collaborators: its action, the stores, the courier and the paging
    rules, the mode and scope, the clients it reads AWS with, the clock and the invocation's time."""

    action: Action
    verify_window: timedelta
    journal: Journal
    claims: Claims
    incidents: Incidents
    courier: Courier
    episodes: Episodes
    paging: PagingRules
    mode: ModeSwitch
    scope: Scope
    sagemaker: SageMakerClient
    cloudwatch: CloudWatchClient
    actions_per_hour: int
    clock: Clock
    request_id: str = ""
    time_left: Callable[[], float] | None = None  # seconds left in this invocation (Lambda's context)
    # The fleet's inference components by endpoint (one listing an invocation), for the units
    # that component alarms trigger (`RemediationUnit.component_alarm_suffixes`).
    components: Callable[[], dict[str, list[str]]] | None = None

    @property
    def unit(self) -> RemediationUnit:
        return self.action.unit

    @property
    def budget(self) -> int | None:
        """Actions per endpoint and hour; None: the unit takes none of the budget."""
        return self.actions_per_hour if self.action.unit.budgeted else None
