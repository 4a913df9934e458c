"""Durable timers: stored in MongoDB, fired by a loop that claims each one atomically.

A claim is one conditional `find_one_and_update` (pending and due → claimed by me until
a lease ends), so with several replicas each timer is claimed by one. A replica that dies
holding a claim loses it when the lease ends, and another fires the timer; handlers are
idempotent through the aggregate inbox (a fired timer's event id is derived from its id).

Like records: an outage (MongoDB or Kafka away) is retried with backoff for as long as
it lasts; only a handler that keeps raising ends a timer, after `max_attempts`, with a
`timer_failed` fact an operator sees. A fired or cancelled timer is deleted, so the
collection holds only what is still to come.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared._kit.clock import Clock
from shared._kit.envelope import CloudEvent, derive_id
from shared._kit.messages import Timer

Document = dict[str, Any]
OnFailed = Callable[[CloudEvent, str, int], Awaitable[None]]
log = structlog.get_logger("station.timers")
MAX_BACKOFF_S = 60.0


class Timers:
    """Schedule, cancel and claim timers of one service."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        service: str,
        clock: Clock,
        owner: str,
        lease_s: float = 30.0,
        max_attempts: int = 5,
    ) -> None:
        self.collection = collection
        self.service = service
        self.clock = clock
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts

    async def create_indexes(self) -> None:
        await self.collection.create_index([("state", ASCENDING), ("due_at", ASCENDING)])

    async def schedule(
        self,
        timer_id: str,
        timer: Timer,
        *,
        due_at: datetime,
        correlation_id: str | None = None,
    ) -> None:
        """Create the timer unless it exists (idempotent: replays schedule nothing new)."""
        await self.collection.update_one(
            {"_id": timer_id},
            {
                "$setOnInsert": {
                    "event_type": timer.type,
                    "subject": timer.subject_value() or timer_id,
                    "due_at": due_at,
                    "data": timer.model_dump(mode="json"),
                    "correlation_id": correlation_id,
                    "state": "pending",
                }
            },
            upsert=True,
        )

    async def cancel(self, timer_id: str) -> bool:
        """Cancel a timer that has not fired; True if it was pending."""
        result = await self.collection.delete_one({"_id": timer_id, "state": "pending"})
        return bool(result.deleted_count == 1)

    async def claim_due(self) -> Document | None:
        """Take one due timer (or one whose claimer's lease ran out), or None."""
        now = self.clock.now()
        claim = {"$set": {"state": "claimed", "owner": self.owner, "lease_until": now + self.lease}}
        for condition in (
            {"state": "pending", "due_at": {"$lte": now}},
            {"state": "claimed", "lease_until": {"$lt": now}},
        ):
            doc = await self.collection.find_one_and_update(
                condition,
                claim,
                sort=[("due_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return doc
        return None

    async def _again_later(self, doc: Document, delay_s: float, **counts: int) -> None:
        update: Document = {
            "state": "pending",
            "due_at": self.clock.now() + timedelta(seconds=delay_s),
            **counts,
        }
        await self.collection.update_one(
            {"_id": doc["_id"], "owner": self.owner, "state": "claimed"}, {"$set": update}
        )

    async def _done(self, doc: Document) -> None:
        await self.collection.delete_one({"_id": doc["_id"], "owner": self.owner})

    def as_event(self, doc: Document) -> CloudEvent:
        """The CloudEvent a fired timer delivers to its handler."""
        return CloudEvent(
            id=derive_id(doc["_id"], "fired"),
            source=f"/services/{self.service}/timers",
            type=doc["event_type"],
            subject=doc["subject"],
            time=self.clock.now(),
            correlationid=doc.get("correlation_id"),
            causationid=doc["_id"],
            data=doc["data"],
        )

    async def fire_due(
        self,
        deliver: Callable[[CloudEvent], Awaitable[None]],
        *,
        transient: Callable[[BaseException], bool] = lambda _exc: False,
        on_failed: OnFailed | None = None,
    ) -> int:
        """Fire every due timer once; return how many fired."""
        fired = 0
        while (doc := await self.claim_due()) is not None:
            event = self.as_event(doc)
            try:
                await deliver(event)
            except Exception as exc:  # noqa: BLE001 - classified: wait out an outage, or count
                await self._failed(doc, event, exc, transient(exc), on_failed)
                continue
            await self._done(doc)
            log.info(
                "timer_fired",
                timer_id=doc["_id"],
                event_type=event.type,
                subject=event.subject,
                owner=self.owner,
            )
            fired += 1
        return fired

    async def _failed(
        self,
        doc: Document,
        event: CloudEvent,
        exc: Exception,
        outage: bool,
        on_failed: OnFailed | None,
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if outage:
            waits = doc.get("outages", 0) + 1
            log.warning("timer_retry", timer_id=doc["_id"], outages=waits, error=error)
            await self._again_later(doc, min(MAX_BACKOFF_S, 0.1 * 2.0**waits), outages=waits)
            return
        failures = doc.get("failures", 0) + 1
        if failures < self.max_attempts:
            log.warning("timer_handler_failed", timer_id=doc["_id"], failures=failures, error=error)
            await self._again_later(doc, min(MAX_BACKOFF_S, 2.0**failures), failures=failures)
            return
        log.error("timer_failed", timer_id=doc["_id"], failures=failures, error=error)
        if on_failed is not None:
            await on_failed(event, error, failures)
        await self._done(doc)

    async def run(
        self,
        deliver: Callable[[CloudEvent], Awaitable[None]],
        interval_s: float,
        *,
        transient: Callable[[BaseException], bool],
        on_failed: OnFailed,
    ) -> None:
        while True:
            try:
                await self.fire_due(deliver, transient=transient, on_failed=on_failed)
            except Exception as exc:  # noqa: BLE001 - MongoDB away: the next tick tries again
                log.warning("timer_loop_failed", error=f"{type(exc).__name__}: {exc}"[:500])
            await asyncio.sleep(interval_s)
