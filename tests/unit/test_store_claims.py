"""Claims (store/claims.py): the cool-down lock and the hour's budget, taken in one transaction
under conditions, so that of two claimers exactly one wins; the same holder gets back in; a
claim given back frees both."""

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from model_medic.store.claims import MIN_LOCK, Claim, Claims, Refused
from model_medic.store.table import Table
from tests.unit.conftest import TABLE

T0 = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
HOUR = "2026-03-01T12"


def take(
    dynamodb: Any, claims: Claims, claim: Claim, cooldown: timedelta | None, cap: int | None, at: datetime
) -> bool:
    """The claim's transaction, as the control loop writes it (with the step's intent); True if granted."""
    try:
        dynamodb.transact_write_items(TransactItems=claims.claim_items(claim, cooldown, cap, at))
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return False
    return True


def test_of_two_claims_on_one_action_the_first_wins_and_the_other_is_told_until_when(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    first, second = Claim("ep", "scale-up", "inc-1#step-1", HOUR), Claim("ep", "scale-up", "inc-2#step-1", HOUR)
    assert take(dynamodb, claims, first, timedelta(minutes=10), 6, T0)
    assert not take(dynamodb, claims, second, timedelta(minutes=10), 6, T0 + timedelta(minutes=1))
    refused = claims.refusal(second, 6, T0 + timedelta(minutes=1), ["ConditionalCheckFailed", "None"])
    until = T0 + timedelta(minutes=10)
    assert refused == Refused("cooldown", f"scale-up is cooling down until {until.isoformat()}", until)
    retried = T0 + timedelta(minutes=2)
    assert take(dynamodb, claims, first, timedelta(minutes=10), 6, retried)  # a retry re-takes its own lock
    assert not take(dynamodb, claims, second, timedelta(minutes=10), 6, until)  # held from the retry on
    assert take(dynamodb, claims, second, timedelta(minutes=10), 6, retried + timedelta(minutes=10))


def test_a_lock_holds_at_least_a_minute_even_without_a_real_cool_down(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    assert take(dynamodb, claims, Claim("ep", "rollout", "a", HOUR), timedelta(seconds=5), None, T0)
    assert claims.check("ep", "rollout", None, T0 + MIN_LOCK - timedelta(seconds=1)) is not None
    assert claims.check("ep", "rollout", None, T0 + MIN_LOCK) is None
    assert claims.claim_items(Claim("ep", "cleanup", "b", HOUR), None, None, T0) == []  # nothing to take


def test_the_hours_budget_counts_each_holder_once_and_refuses_past_its_cap(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    for holder in ("a", "b"):
        assert take(dynamodb, claims, Claim("ep", "scale-up", holder, HOUR), None, 2, T0)
    assert take(dynamodb, claims, Claim("ep", "scale-up", "a", HOUR), None, 2, T0)  # again: counted once
    assert not take(dynamodb, claims, Claim("ep", "scale-up", "c", HOUR), None, 2, T0)
    refused = claims.check("ep", "scale-up", 2, T0, holder="c")
    assert refused == Refused(
        "budget", "hourly budget of 2 actions for ep is spent", datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    )
    assert claims.check("ep", "scale-up", 2, T0, holder="a") is None
    assert claims.check("ep", "scale-up", 3, T0) is None
    assert claims.check("ep", "scale-up", 2, T0 + timedelta(hours=1)) is None  # another hour's budget
    assert take(dynamodb, claims, Claim("ep", "scale-up", "c", "2026-03-01T13"), None, 2, T0 + timedelta(hours=1))


def test_a_claim_given_back_frees_its_lock_and_its_unit_of_the_budget(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    held = Claim("ep", "scale-up", "a", HOUR)
    assert take(dynamodb, claims, held, timedelta(minutes=10), 1, T0)
    claims.release(Claim("ep", "scale-up", "other", HOUR))  # not its holder: the lock stays
    assert claims.check("ep", "scale-up", None, T0) is not None
    claims.release(held)
    assert claims.check("ep", "scale-up", 1, T0) is None
    claims.release(held)  # already given back: nothing to do, no error
    assert take(dynamodb, claims, Claim("ep", "scale-up", "b", HOUR), timedelta(minutes=10), 1, T0)


def test_a_cancelled_claim_with_nothing_standing_is_refused_this_time(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    refused = claims.refusal(Claim("ep", "scale-up", "a", HOUR), 6, T0, ["TransactionConflict"])
    assert refused == Refused("cooldown", "a concurrent claim for this endpoint and action was in flight")


def test_the_claim_items_keep_the_ledgers_attribute_types(dynamodb: Any) -> None:
    claims = Claims(Table(dynamodb, TABLE))
    lock, budget = claims.claim_items(Claim("ep", "scale-up", "a", HOUR), timedelta(minutes=10), 6, T0)
    epoch = int(T0.timestamp())
    assert lock["Put"]["Item"] == {
        "pk": {"S": "ENDPOINT#ep"},
        "sk": {"S": "COOLDOWN#scale-up"},
        "kind": {"S": "cooldown"},
        "holder": {"S": "a"},
        "claimed_at": {"S": T0.isoformat()},
        "until": {"N": str(epoch + 600)},
        "expiration": {"N": str(epoch + 600 + 86400)},
    }
    assert budget["Update"]["Key"] == {"pk": {"S": "ENDPOINT#ep"}, "sk": {"S": f"BUDGET#{HOUR}"}}
    assert budget["Update"]["ExpressionAttributeValues"] == {
        ":holder": {"SS": ["a"]},
        ":one": {"S": "a"},
        ":cap": {"N": "6"},
        ":kind": {"S": "budget"},
        ":exp": {"N": str(epoch + 2 * 86400)},
    }
