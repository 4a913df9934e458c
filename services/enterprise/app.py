"""Wiring of the enterprise service: its stores, its handlers, its figures."""

from datetime import timedelta

from services.enterprise import messages
from services.enterprise.handlers import EnterpriseHandlers
from services.enterprise.redistribution import Redistribution
from services.enterprise.settings import EnterpriseSettings
from services.enterprise.store import EnterpriseStore
from shared import Runtime, Service


def wire(runtime: Runtime[EnterpriseSettings]) -> None:
    store = EnterpriseStore.on(runtime, market_refresh_s=runtime.settings.market_refresh_s)
    deadline = timedelta(seconds=runtime.settings.response_deadline_s)
    commands = EnterpriseHandlers(store)
    flow = Redistribution(store, runtime.settings.max_distance_km, deadline)
    runtime.handle(
        commands.register_enterprise,
        commands.declare_inventory,
        commands.declare_demand,
        commands.respond_to_transfer,
        commands.confirm_delivery,
        commands.transfer_response_due,
        flow.alert_raised,
        flow.transfer_declined,
        flow.transfer_completed,
        flow.alert_resolved,
    )
    # an enterprise's own name and address are the business's, not its contact's
    runtime.erasable(messages.ErasePerson, messages.PersonErased)
    runtime.report(store.stats)


SERVICE = Service("enterprise", EnterpriseSettings, wire, contract=messages)
