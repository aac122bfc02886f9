"""The outbox's letters and the paging episodes as the ledger holds them: each item reads back into
its record and is written again unchanged; the writes that must not race carry their conditions."""

from datetime import UTC, datetime, timedelta
from typing import cast

from mypy_boto3_dynamodb import DynamoDBClient

from model_medic.store.episodes import Episode, Episodes
from model_medic.store.journal import Letter, Outbox
from model_medic.store.table import Table, from_item, to_item

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NO_CLIENT = cast("DynamoDBClient", None)

LETTER_ITEM = {
    "pk": {"S": "OUTBOX#PENDING"},
    "sk": {"S": "0#2026-11-22T10:00:00+00:00#0123456789abcdef0123456789abcdef"},
    "kind": {"S": "letter"},
    "dedup_id": {"S": "0123456789abcdef0123456789abcdef"},
    "severity": {"S": "critical"},
    "created_at": {"S": "2026-11-22T10:00:00+00:00"},
    "endpoint": {"S": "churn-prod"},
    "letter": {"S": "alert"},
    "body": {"S": '{"subject": "Model Medic budget spent on churn-prod", "text": "hourly budget spent"}'},
    "channels": {"SS": ["sns"]},
    "owner": {"S": "11111111-2222-3333-4444-555555555555"},
    "lease_until": {"N": "1795341630"},
    "attempts": {"N": "0"},
    "expiration": {"N": "1803117600"},
}

EPISODE_ITEM = {
    "pk": {"S": "EPISODES#OPEN"},
    "sk": {"S": "scale-up#churn-prod#churn-prod-HighLatency#bound"},
    "kind": {"S": "episode"},
    "action": {"S": "scale-up"},
    "endpoint": {"S": "churn-prod"},
    "subject": {"S": "churn-prod-HighLatency"},
    "cause": {"S": "bound"},
    "opened_at": {"S": "2026-11-22T10:00:00+00:00"},
    "last_seen": {"S": "2026-11-22T10:06:00+00:00"},
    "paged_at": {"S": "2026-11-22T10:00:00+00:00"},
    "seen": {"N": "2"},
    "pages": {"N": "1"},
    "holding": {"SS": ["2026-11-22T10:06:00+00:00#feedfacefeedface"]},
    "version": {"N": "2"},
}


def test_a_letter_reads_back_and_is_written_again_unchanged_critical_first_in_its_partition() -> None:
    letter = Letter.from_item(from_item(LETTER_ITEM))
    assert (letter.kind, letter.severity, letter.channels, letter.lease_until) == (
        "alert",
        "critical",
        frozenset({"sns"}),
        1795341630,
    )
    assert letter.body["subject"] == "Model Medic budget spent on churn-prod"
    assert to_item(letter.to_item()) == LETTER_ITEM
    info = Letter.from_item(from_item({**LETTER_ITEM, "severity": {"S": "info"}}))
    assert sorted([info.sk, letter.sk])[0] == letter.sk  # the rank sorts critical letters first


def test_a_letters_put_is_plain_and_sent_channels_leave_it() -> None:
    outbox = Outbox(Table(NO_CLIENT, "ledger"), timedelta(days=90))
    request = outbox.put_request(Letter.from_item(from_item(LETTER_ITEM)))
    assert request == {"Put": {"TableName": "ledger", "Item": LETTER_ITEM}}


def test_an_episode_reads_back_and_is_written_again_unchanged_without_a_quiet_it_does_not_have() -> None:
    episode = Episode.from_item(from_item(EPISODE_ITEM))
    assert (episode.seen, episode.quiet_since, episode.version) == (2, None, 2)
    assert to_item(episode.to_item()) == EPISODE_ITEM
    quiet = Episode.from_item(from_item({**EPISODE_ITEM, "quiet_since": {"S": "2026-11-22T10:09:00+00:00"}}))
    without_holders = {name: value for name, value in EPISODE_ITEM.items() if name != "holding"}
    assert Episode.from_item(from_item(without_holders)).holding == frozenset()  # an empty set is left out
    assert quiet.quiet_since == "2026-11-22T10:09:00+00:00"


def test_an_episode_is_written_on_the_version_read_and_a_new_one_only_if_none_exists() -> None:
    episodes = Episodes(Table(NO_CLIENT, "ledger"))
    stored = Episode.from_item(from_item(EPISODE_ITEM))
    put = episodes.put_request(stored)["Put"]
    assert (put["ConditionExpression"], put["ExpressionAttributeValues"]) == ("#version = :read", {":read": {"N": "2"}})
    assert put["Item"]["version"] == {"N": "3"}
    fresh = Episode("scale-up", "churn-prod", "-", "budget", T0.isoformat(), T0.isoformat(), T0.isoformat())
    assert episodes.put_request(fresh)["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"
    delete = episodes.delete_request(stored)["Delete"]
    assert (delete["Key"]["sk"], delete["ConditionExpression"]) == ({"S": stored.sk}, "#version = :read")
