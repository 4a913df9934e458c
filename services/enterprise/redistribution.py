"""The redistribution flow: the service's reactions to its own facts on enterprise.events.

Planning one cause (an alert raised or grown, a transfer declined or expired) is four
idempotent steps under that cause, each with a key of its own (`ctx.step`), so a
redelivery finishes what a crash left:
1. the alert records the intended transfers (the matcher's plan on a fresh snapshot),
   in the same write that decides how much is left to plan;
2. each recipient reserves what it can, with a compare-and-set on its own document, so
   two alerts never promise the same room or need;
3. the transfers that got something are created, with their response deadline;
4. the alert records what was reserved and emits the proposal and any escalation.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from services.enterprise import planning
from services.enterprise.domain import chemical_or_reject
from services.enterprise.handlers import alert_ids, deadline_timer
from services.enterprise.matcher import Candidate, Location, plan_redistribution
from services.enterprise.messages import (
    AlertGrown,
    AlertResolved,
    EscalationReason,
    OverCapacityDetected,
    ProposedTransfer,
    TransferCompleted,
    TransferDeclined,
    TransferResponseDue,
)
from services.enterprise.state import AlertState, EnterpriseState, TransferState
from services.enterprise.store import EnterpriseStore
from shared import Change, Context

# the matcher needs an origin even when there is nothing to place (no candidates then)
ORIGIN = Location(0.0, 0.0)

# what a cause does to the alert before planning, and why what cannot be placed escalates
ToPlan = Callable[[AlertState | None], tuple[AlertState, EscalationReason]]


class _NeedCandidates(Exception):  # noqa: N818 - a signal inside the flow, not an error
    """The alert has something to plan: load the market and decide again."""


@dataclass(frozen=True)
class Redistribution:
    """Plans, re-plans, settles and withdraws transfers of a surplus."""

    store: EnterpriseStore
    max_distance_km: float
    response_deadline: timedelta

    async def alert_raised(self, alert: OverCapacityDetected | AlertGrown, ctx: Context) -> None:
        """An alert opened or grew: plan what its surplus does not cover yet."""
        await self._plan(
            ctx,
            alert.alert_id,
            alert.enterprise_id,
            alert.cas,
            lambda state: (planning.raised(state, alert), "no_eligible_recipient"),
        )

    async def transfer_declined(self, declined: TransferDeclined, ctx: Context) -> None:
        """A recipient declined (or let the deadline pass): free its room, re-plan without it
        (unless the alert was resolved meanwhile)."""
        transfer = await self.store.transfers.load(declined.transfer_id)
        if transfer is None:
            return
        await self.store.enterprises.apply(
            declined.to_enterprise_id,
            ctx.step("release"),
            lambda state: planning.without_promise(state, declined.transfer_id),
        )
        expired = declined.reason == "expired"

        def to_plan(state: AlertState | None) -> tuple[AlertState, EscalationReason]:
            if state is None:  # the alert always exists before its transfers
                raise LookupError(f"alert {declined.alert_id} of {declined.transfer_id} is missing")
            ended = planning.transfer_ended(
                state,
                declined.transfer_id,
                "expired" if expired else "declined",
                declined.to_enterprise_id,
            )
            return ended, "expired" if expired else "declined"

        await self._plan(ctx, declined.alert_id, transfer.from_enterprise_id, transfer.cas, to_plan)

    async def _plan(
        self, ctx: Context, alert_id: str, source_id: str, cas: str, to_plan: ToPlan
    ) -> None:
        market: tuple[EnterpriseState, list[Candidate]] | None = None

        def intend(state: AlertState | None) -> Change[AlertState] | None:
            current, reason = to_plan(state)
            if current.status == "open" and current.unplanned_kg() > 0 and market is None:
                raise _NeedCandidates
            source, candidates = market or (None, [])
            plan = plan_redistribution(
                source_enterprise_id=source_id,
                origin=Location(source.location.lat, source.location.lon) if source else ORIGIN,
                categories=chemical_or_reject(cas).categories,
                surplus_kg=current.unplanned_kg(),
                candidates=candidates,
                max_distance_km=self.max_distance_km,
                excluded=frozenset(current.excluded),
                max_transfers=current.transfers_left,
            )
            transfer_ids = {
                t.to_enterprise_id: ctx.derive(f"transfer:{t.to_enterprise_id}")
                for t in plan.transfers
            }
            return planning.intend(
                state, current, key=ctx.key, reason=reason, plan=plan, transfer_id_for=transfer_ids
            )

        while True:
            try:
                intended = await self.store.alerts.apply(alert_id, ctx, intend)
            except _NeedCandidates:
                source = await self.store.enterprises.load(source_id)
                if source is None:
                    raise LookupError(f"alert {alert_id}: {source_id} is unknown") from None
                market = (source, await self.store.candidates(cas))
                continue
            break
        pending = intended.state.pending.get(ctx.key) if intended.state else None
        if pending is None:
            return
        placed = []
        for intent in pending.intents:
            granted = await self._reserve(ctx, intent, cas, alert_id, source_id)
            if granted > 0:
                transfer = intent.model_copy(update={"quantity_kg": granted})
                placed.append(transfer)
                await self._create_transfer(ctx, transfer, cas, alert_id, source_id)
        final = await self.store.alerts.apply(
            alert_id,
            ctx.step("plan-final"),
            lambda state: planning.settle_plan(state, key=ctx.key, placed=placed),
        )
        if final.state is not None and final.state.status == "resolved":
            # resolved while this plan was under way: what it reserved is withdrawn
            await self._withdraw(ctx, [t.transfer_id for t in placed])

    async def _reserve(
        self, ctx: Context, intent: ProposedTransfer, cas: str, alert_id: str, source_id: str
    ) -> float:
        applied = await self.store.enterprises.apply(
            intent.to_enterprise_id,
            ctx.step(f"reserve:{intent.transfer_id}"),
            lambda state: planning.reserve(
                state, intent, cas=cas, alert_id=alert_id, source_id=source_id
            ),
        )
        promise = applied.state.promises.get(intent.transfer_id) if applied.state else None
        return promise.quantity_kg if promise else 0.0

    async def _create_transfer(
        self, ctx: Context, transfer: ProposedTransfer, cas: str, alert_id: str, source_id: str
    ) -> None:
        transfer_id = transfer.transfer_id
        await ctx.schedule(
            deadline_timer(transfer_id),
            TransferResponseDue(transfer_id=transfer_id),
            at=ctx.now() + self.response_deadline,
        )
        state = TransferState(
            **dict(transfer), alert_id=alert_id, from_enterprise_id=source_id, cas=cas
        )
        await self.store.transfers.apply(
            transfer_id,
            ctx.step(f"create:{transfer_id}"),
            lambda current: None if current is not None else Change(state),
        )

    async def transfer_completed(self, done: TransferCompleted, ctx: Context) -> None:
        """A delivery moves stock at both ends, lowers the recipient's demand, ends the
        promise; a delivery short of the promise leaves the rest to plan again."""
        source, recipient = done.from_enterprise_id, done.to_enterprise_id
        await self.store.enterprises.apply(
            source,
            ctx.step("ship"),
            lambda s: planning.ship(s, done, alert_ids(ctx.step("ship"), source)),
        )
        await self.store.enterprises.apply(
            recipient,
            ctx.step("receive"),
            lambda s: planning.receive(s, done, alert_ids(ctx.step("receive"), recipient)),
        )
        await self.store.alerts.apply(
            done.alert_id, ctx.step("settle"), lambda s: planning.delivered(s, done)
        )

        def unchanged(state: AlertState | None) -> tuple[AlertState, EscalationReason]:
            if state is None:
                raise LookupError(f"alert {done.alert_id} of {done.transfer_id} is missing")
            return state, "no_eligible_recipient"

        await self._plan(ctx.step("replan"), done.alert_id, source, done.cas, unchanged)

    async def alert_resolved(self, resolved: AlertResolved, ctx: Context) -> None:
        """Stock is back within the permit: the alert is closed and what it only proposed
        is withdrawn."""
        closed = await self.store.alerts.apply(
            resolved.alert_id, ctx, lambda s: planning.close(s, resolved)
        )
        await self._withdraw(ctx, planning.withdrawn_ids(closed.state))

    async def _release(self, ctx: Context, transfer: TransferState) -> None:
        tid = transfer.transfer_id
        await self.store.enterprises.apply(
            transfer.to_enterprise_id,
            ctx.step(f"unreserve:{tid}"),
            lambda state: planning.without_promise(state, tid),
        )

    async def _withdraw(self, ctx: Context, transfer_ids: list[str]) -> None:
        """Each transfer: withdrawn (a fact for the recipient), reservation freed, no deadline."""
        for transfer_id in transfer_ids:
            applied = await self.store.transfers.apply(
                transfer_id, ctx.step(f"withdraw:{transfer_id}"), planning.withdraw
            )
            if applied.state is not None and applied.state.status == "withdrawn":
                await self._release(ctx, applied.state)
            await ctx.cancel(deadline_timer(transfer_id))
