"""The pager: a unit's paging episodes kept with the decisions that meet them, reminded and ended by its sweep."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from model_medic.platform.clock import Clock
from model_medic.store.episodes import Episode, Episodes
from model_medic.store.incidents import Incidents
from model_medic.store.table import cancelled_on
from model_medic.tell.courier import Courier, Post, dedup_of
from model_medic.tell.paging import PagingRules, Standing, due, ending, leave, quiet_end, recur, reminded, reminder


class Pager:
    """One unit's episodes: met and left in the transactions of its incidents, reminded and ended
    by its sweep in their own, an ended one kept in the write that ends it (docs/rooms/tell.md,
    "One page per standing condition")."""

    def __init__(
        self, action: str, episodes: Episodes, incidents: Incidents, courier: Courier, rules: PagingRules, clock: Clock
    ) -> None:
        self._action = action
        self._episodes = episodes
        self._incidents = incidents
        self._courier = courier
        self._rules = rules
        self._clock = clock

    def met(self, post: Post, endpoint: str, incident: str, standing: Standing) -> bool:
        """The standing condition met in `incident`: its episode written in the transaction (a new
        one when none is open), its page when the episode is new (or the standing says always), the
        end line of an episode that ended unnoticed. Whether the decision itself may page."""
        now = self._clock()
        current = self._episodes.get(self._action, endpoint, standing.subject, standing.cause)
        episode, ended, page = recur(current, self._action, endpoint, standing, incident, now, self._rules)
        if ended is not None:
            post.add(self._episodes.ended_request(ended, quiet_end(ended, self._rules)))
            self._plain(post, "inform", ended, *ending(ended, self._rules), "end")
        post.add(self._episodes.put_request(episode), optional=True)
        if standing.alert is not None:
            if page:
                self._plain(post, "alert", episode, *standing.alert, f"page-{episode.pages}")
            return True
        return page

    def left(self, post: Post, endpoint: str, incident: str, at: datetime) -> None:
        """A closing incident leaves the episodes it held (in the transaction that closes it) at
        `at`, when its alarm cleared."""
        for episode in self._episodes.of(self._action, endpoint):
            if incident in episode.holding:
                post.add(self._episodes.put_request(leave(episode, incident, at)), optional=True)

    def follow(self, endpoints: list[str]) -> None:
        """The sweep's look at the unit's episodes on these endpoints: a reminder for one that lasts,
        the end line for one quiet long enough, each written with the episode, then sent."""
        now = self._clock()
        wanted = set(endpoints)
        for read in self._episodes.of(self._action):
            if read.endpoint not in wanted:
                continue
            episode = self._still_held(read, now) if due(read, now, self._rules) == "remind" else read
            what = due(episode, now, self._rules)
            post = Post()
            if what == "end":
                post.add(self._episodes.delete_request(episode))
                post.add(self._episodes.ended_request(episode, quiet_end(episode, self._rules)))
                self._plain(post, "inform", episode, *ending(episode, self._rules), "end")
            elif what == "remind":
                later = reminded(episode, now)
                post.add(self._episodes.put_request(later))
                self._plain(post, "alert", later, *reminder(later, now), f"page-{later.pages}")
            elif episode != read:  # it went quiet unnoticed (its incidents closed before it was kept)
                post.add(self._episodes.put_request(episode))
            else:
                continue
            try:
                self._courier.commit(post.items)
            except ClientError as error:
                if not cancelled_on(error, {0}):
                    raise
                continue  # another sweep wrote it first
            self._courier.deliver(*post.letters)

    def _still_held(self, episode: Episode, now: datetime) -> Episode:
        """The episode without the incidents it lists that are closed or gone."""
        for incident_id in sorted(episode.holding):
            incident = self._incidents.get(episode.endpoint, incident_id)
            if incident is None or incident.closed_at is not None:
                at = datetime.fromisoformat(incident.closed_at) if incident and incident.closed_at else now
                episode = leave(episode, incident_id, at)
        return episode

    def _plain(self, post: Post, kind: str, episode: Episode, subject: str, text: str, what: str) -> None:
        """A plain message about an episode; its dedup id from the episode and what it says."""
        dedup = dedup_of(episode.endpoint, f"{episode.sk}#{episode.opened_at}#{what}")
        letter = self._courier.plain_letter(
            "alert" if kind == "alert" else "inform", episode.endpoint, subject, text, dedup
        )
        post.add(self._courier.put_request(letter))
        post.letters.append(letter)
