"""Enterprise handlers for the commands on enterprise.intake and the transfer deadline.

Each changes one aggregate (enterprise or transfer) atomically with its inbox and outbox;
what follows over several aggregates is the redistribution flow (redistribution.py).
"""

from dataclasses import dataclass

from services.enterprise import domain
from services.enterprise.domain import AlertIdFor
from services.enterprise.messages import (
    ConfirmDelivery,
    DeclareDemand,
    DeclareInventory,
    RegisterEnterprise,
    RespondToTransfer,
    TransferResponseDue,
)
from services.enterprise.store import EnterpriseStore
from shared import Context


def alert_ids(ctx: Context, enterprise_id: str) -> AlertIdFor:
    """Alert ids derived from the cause, so a replay opens the same alert."""
    return lambda cas: ctx.derive(f"alert:{enterprise_id}:{cas}")


def deadline_timer(transfer_id: str) -> str:
    return f"deadline:{transfer_id}"


@dataclass(frozen=True)
class EnterpriseHandlers:
    """The commands on enterprise.intake."""

    store: EnterpriseStore

    async def register_enterprise(self, cmd: RegisterEnterprise, ctx: Context) -> None:
        """Register an enterprise, or update its registration."""
        eid = cmd.enterprise_id
        await self.store.enterprises.apply(
            eid, ctx, lambda s: domain.register(s, cmd, alert_ids(ctx, eid))
        )

    async def declare_inventory(self, cmd: DeclareInventory, ctx: Context) -> None:
        """A purchase, consumption, sale or stocktake."""
        eid = cmd.enterprise_id
        await self.store.enterprises.apply(
            eid, ctx, lambda s: domain.declare_inventory(s, cmd, alert_ids(ctx, eid))
        )

    async def declare_demand(self, cmd: DeclareDemand, ctx: Context) -> None:
        """An open demand for a chemical."""
        await self.store.enterprises.apply(
            cmd.enterprise_id, ctx, lambda s: domain.declare_demand(s, cmd)
        )

    async def respond_to_transfer(self, cmd: RespondToTransfer, ctx: Context) -> None:
        """The recipient answers: the response deadline has no reason left."""
        await self.store.transfers.apply(cmd.transfer_id, ctx, lambda s: domain.respond(s, cmd))
        await ctx.cancel(deadline_timer(cmd.transfer_id))

    async def transfer_response_due(self, due: TransferResponseDue, ctx: Context) -> None:
        """No answer within the deadline: the transfer is declined as expired."""
        await self.store.transfers.apply(due.transfer_id, ctx, domain.expire)

    async def confirm_delivery(self, cmd: ConfirmDelivery, ctx: Context) -> None:
        """The delivery of an accepted transfer (stocks move on transfer_completed)."""
        await self.store.transfers.apply(
            cmd.transfer_id, ctx, lambda s: domain.confirm_delivery(s, cmd)
        )
