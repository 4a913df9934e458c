"""Wiring of the enterprise service: commands, its own facts (the redistribution flow), timers."""

from datetime import timedelta

from services.enterprise.handlers import EnterpriseHandlers
from services.enterprise.messages import (
    AlertRaised,
    AlertResolved,
    ConfirmDelivery,
    DeclareDemand,
    DeclareInventory,
    RegisterEnterprise,
    RespondToTransfer,
    TransferCompleted,
    TransferDeclined,
    TransferResponseDue,
)
from services.enterprise.redistribution import Redistribution
from services.enterprise.settings import EnterpriseSettings
from services.enterprise.store import EnterpriseStore
from shared.consuming import Router
from shared.runtime import Runtime, ServiceSpec, Wiring


def wire(runtime: Runtime) -> Wiring:
    """Routers for enterprise.intake and enterprise.events, the stores, the stats."""
    settings = runtime.settings
    assert isinstance(settings, EnterpriseSettings)
    store = EnterpriseStore(
        enterprises=runtime.store("enterprises"),
        alerts=runtime.store("alerts"),
        transfers=runtime.store("transfers"),
    )
    deadline = timedelta(seconds=settings.response_deadline_s)
    commands = EnterpriseHandlers(
        store, runtime.timers, runtime.clock, settings.max_distance_km, deadline
    )
    flow = Redistribution(store, runtime.timers, runtime.clock, settings.max_distance_km, deadline)

    intake = Router()
    intake.on("enterprise.register_enterprise", RegisterEnterprise)(commands.register_enterprise)
    intake.on("enterprise.declare_inventory", DeclareInventory)(commands.declare_inventory)
    intake.on("enterprise.declare_demand", DeclareDemand)(commands.declare_demand)
    intake.on("enterprise.respond_to_transfer", RespondToTransfer)(commands.respond_to_transfer)
    intake.on("enterprise.confirm_delivery", ConfirmDelivery)(commands.confirm_delivery)

    facts = Router()
    facts.on("enterprise.over_capacity_detected", AlertRaised)(flow.alert_raised)
    facts.on("enterprise.alert_grown", AlertRaised)(flow.alert_raised)
    facts.on("enterprise.transfer_declined", TransferDeclined)(flow.transfer_declined)
    facts.on("enterprise.transfer_completed", TransferCompleted)(flow.transfer_completed)
    facts.on("enterprise.alert_resolved", AlertResolved)(flow.alert_resolved)

    timers = Router()
    timers.on("enterprise.transfer_response_due", TransferResponseDue)(
        commands.transfer_response_due
    )
    return Wiring(
        routers={"enterprise.intake": intake, "enterprise.events": facts},
        timer_router=timers,
        stores=[store.enterprises, store.alerts, store.transfers],
        stats=store.stats,
    )


SPEC = ServiceSpec(
    name="enterprise",
    settings_type=EnterpriseSettings,
    topics=("enterprise.intake", "enterprise.events"),
    wire=wire,
)
