"""Wiring of the mediation service: its stores, its handlers, its figures."""

from datetime import timedelta

from services.mediation import messages
from services.mediation.assigning import Assignment
from services.mediation.deadlines import Deadlines
from services.mediation.domain import Slas
from services.mediation.handlers import MediationHandlers
from services.mediation.settings import MediationSettings
from services.mediation.state import CaseState
from services.mediation.store import MediationStore
from shared import Runtime, Service


def wire(runtime: Runtime[MediationSettings]) -> None:
    settings = runtime.settings
    store = MediationStore.on(runtime)
    deadlines = Deadlines(store, timedelta(seconds=settings.sla_granularity_s))
    slas = Slas(
        session_deadline=timedelta(seconds=settings.session_deadline_s),
        resolution_target=timedelta(seconds=settings.resolution_target_s),
    )
    cases = MediationHandlers(store, slas, deadlines, settings.max_sessions_without_agreement)
    flow = Assignment(store)
    runtime.handle(
        cases.register_mediator,
        cases.report_dispute,
        cases.record_session,
        cases.check_obligation,
        cases.dispute_detected,
        deadlines.deadlines_due,
        flow.case_opened,
        flow.mediator_registered,
        flow.case_closed,
    )
    # a case's description tells what befell its parties: it goes with any of them
    runtime.erasable(
        messages.ErasePerson, messages.PersonErased, with_person={"cases": ("description",)}
    )
    runtime.expire(store.cases, CaseState.finished_at)
    runtime.report(store.stats)


SERVICE = Service("mediation", MediationSettings, wire, contract=messages)
