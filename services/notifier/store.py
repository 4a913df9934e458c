"""The notifier's collections: the directory, the notifications, the hourly quotas of
each address, and its /stats figures.

The unique key of a notification is its `_id`: the notification id, a uuid5 of the
cause's CloudEvents identity (source and id), the recipient and the channel. MongoDB's
`_id` index makes a second document for the same (cause, recipient, channel)
impossible, however many replicas or redeliveries race to create it.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.notifier.state import DirectoryEntry, NotificationState, RecipientQuota
from shared import AggregateStore, Runtime

STATS_FIELDS = {
    "state.status": 1,
    "state.channel": 1,
    "state.template": 1,
    "state.retries": 1,
    "state.delayed_until": 1,
    "state.skip_reason": 1,
}


def directory_key(kind: str, recipient_id: str) -> str:
    return f"{kind}:{recipient_id}"


def quota_id(channel: str, address: str) -> str:
    """The quota document of one address: a digest, so the collection's keys are no list
    of phone numbers (the address is normalised before, so spellings share one quota)."""
    digest = hashlib.sha256(f"{channel}\x1f{address}".encode()).hexdigest()[:32]
    return f"{channel}:{digest}"


@dataclass(frozen=True)
class NotifierStore:
    directory: AggregateStore[DirectoryEntry]
    notifications: AggregateStore[NotificationState]
    quotas: AggregateStore[RecipientQuota]

    @classmethod
    def on(cls, runtime: Runtime[Any]) -> "NotifierStore":
        return cls(
            runtime.store("directory", DirectoryEntry),
            runtime.store("notifications", NotificationState),
            runtime.store("quotas", RecipientQuota),
        )

    async def recipients(self, keys: Iterable[str]) -> dict[str, DirectoryEntry]:
        """The directory entries of `<kind>:<id>` keys that exist. One lookup by `_id` per
        key: a cause names few recipients, and FerretDB turns only an `_id` equality into
        an index lookup (an `$in` would scan the whole directory)."""
        found = {}
        for key in sorted(set(keys)):
            entry = await self.directory.load(key)
            if entry is not None:
                found[key] = entry
        return found

    async def stats(self) -> dict[str, Any]:
        """Sent, failed, skipped, held, retried and delayed notifications, by channel and
        template."""
        totals: Counter[str] = Counter()
        by_channel: defaultdict[str, Counter[str]] = defaultdict(Counter)
        by_template: defaultdict[str, Counter[str]] = defaultdict(Counter)
        skipped: Counter[str] = Counter()
        cursor = self.notifications.collection.find({}, STATS_FIELDS)
        async for doc in cursor:
            state = doc["state"]
            figures = Counter({state["status"]: 1, "retried": state.get("retries") or 0})
            if state.get("delayed_until") is not None:
                figures["delayed"] += 1
            if state.get("skip_reason"):
                skipped[state["skip_reason"]] += 1
            totals.update(figures)
            by_channel[state.get("channel") or "none"].update(figures)
            by_template[state["template"]].update(figures)
        kinds = Counter(e.kind for e in await self.directory.find({}))
        counted = ("sent", "failed", "skipped", "held", "retried", "delayed", "pending")
        return {
            "notifications": sum(totals[s] for s in ("pending", *counted[:4])),
            **{name: totals[name] for name in counted},
            "by_channel": {k: _figures(v, counted) for k, v in sorted(by_channel.items())},
            "by_template": {k: _figures(v, counted) for k, v in sorted(by_template.items())},
            "skipped_by_reason": dict(sorted(skipped.items())),
            "recipients_known": dict(sorted(kinds.items())),
        }


def _figures(counts: Counter[str], names: Iterable[str]) -> dict[str, int]:
    return {name: counts[name] for name in names if counts[name]}
