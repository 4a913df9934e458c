"""Rules of the registry, campaigns and fraud attempts (pure).

Decisions from a typed state to a `Change` (the new state and the facts it states); a
broken rule raises `Rejected`. No Kafka, MongoDB, clock or logging: times and the ids the
service mints come in as arguments. Visits are in `visits.py`, the roster in `roster.py`,
home services in `homeservice.py`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.outreach import messages as m
from services.outreach.commands import IssueFraudWarning, RegisterHousehold, ReportFraudAttempt
from services.outreach.state import (
    ActiveCluster,
    AttemptReportState,
    CampaignState,
    ClusterWindowState,
    HouseholdState,
    RegistryState,
    Sighting,
)
from services.outreach.targeting import TargetPlan, registry_entry
from services.outreach.vocabulary import SCHEMES, Severity, Target, Trigger, all_blocks, is_block
from shared import Change, Fact, Rejected


@dataclass(frozen=True)
class Blocks:
    """The county seat's blocks: `block-01` … `block-<count>`."""

    count: int

    def check(self, block: str) -> str:
        if not is_block(block, self.count):
            raise Rejected(m.UNKNOWN_BLOCK, f"{block!r} is not block-01 … block-{self.count:02}")
        return block

    def named_or_all(self, blocks: list[str]) -> list[str]:
        """The blocks named (each checked), or every block when none is named."""
        return sorted({self.check(b) for b in blocks}) if blocks else all_blocks(self.count)


def scheme_or_reject(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise Rejected(m.UNKNOWN_SCHEME, f"{scheme!r} is not a known fraud scheme")
    return scheme


# -- the registry -----------------------------------------------------------------------


# A block's registry is one document (a campaign reads a block's households in one
# read), so a block holds at most this many: at the command bounds the document stays far
# below MongoDB's 16 MiB (tests/unit/test_document_bounds.py); the county seat's blocks
# have about 2,000 each.
MAX_HOUSEHOLDS_PER_BLOCK = 4_000


def register_household(
    state: HouseholdState | None,
    cmd: RegisterHousehold,
    blocks: Blocks,
    registry: RegistryState | None,
) -> Change[HouseholdState]:
    """A household, or a new registration of it (which may move it to another block);
    refused when it would be one more in a full block (`registry`: that block's index)."""
    blocks.check(cmd.block)
    listed = registry is not None and any(
        e.household_id == cmd.household_id for e in registry.households
    )
    if not listed and registry is not None and registry.size >= MAX_HOUSEHOLDS_PER_BLOCK:
        raise Rejected(
            m.BLOCK_FULL, f"{cmd.block} holds {MAX_HOUSEHOLDS_PER_BLOCK} households already"
        )
    moved_from = state.block if state is not None and state.block != cmd.block else None
    household = HouseholdState(**cmd.model_dump(), previous_block=moved_from)
    return Change(household, [m.HouseholdRegistered(**cmd.model_dump())])


def index_household(
    state: RegistryState | None, household: HouseholdState
) -> Change[RegistryState] | None:
    """The block's index gets the household's targeting facts (replacing older ones)."""
    current = state or RegistryState(block=household.block)
    entry = registry_entry(household)
    if entry in current.households:
        return None
    kept = [e for e in current.households if e.household_id != household.household_id]
    households = sorted([*kept, entry], key=lambda e: e.household_id)
    return Change(current.model_copy(update={"households": households, "size": len(households)}))


def unindex_household(
    state: RegistryState | None, household_id: str
) -> Change[RegistryState] | None:
    """A household moved away from the block."""
    if state is None or all(e.household_id != household_id for e in state.households):
        return None
    kept = [e for e in state.households if e.household_id != household_id]
    return Change(state.model_copy(update={"households": kept, "size": len(kept)}))


# -- campaigns --------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign to launch: from a warning, or from a cluster of attempt reports."""

    campaign_id: str
    warning_id: str
    scheme: str
    title: str
    severity: Severity
    trigger: Trigger
    blocks: list[str]
    target: Target
    issued_by: str

    @property
    def topics(self) -> list[str]:
        """What a volunteer covers on these visits: the scheme warned about."""
        return [self.scheme]


def check_warning(cmd: IssueFraudWarning, blocks: Blocks) -> list[str]:
    """A warning's blocks (all when none), refused if a block, the scheme or the target is
    wrong."""
    scheme_or_reject(cmd.scheme)
    named = blocks.named_or_all(cmd.blocks)
    if cmd.target.is_empty():
        raise Rejected(m.EMPTY_TARGET, "the target names no business type, age or households")
    return named


def launch(
    state: CampaignState | None, plan: CampaignPlan, targets: TargetPlan, at: datetime
) -> Change[CampaignState]:
    """The campaign as launched: once per warning (or cluster)."""
    if state is not None:
        raise Rejected(
            m.WARNING_ALREADY_ISSUED, f"{plan.warning_id} launched {state.campaign_id} already"
        )
    campaign = CampaignState(
        campaign_id=plan.campaign_id,
        warning_id=plan.warning_id,
        scheme=plan.scheme,
        title=plan.title,
        severity=plan.severity,
        trigger=plan.trigger,
        blocks=plan.blocks,
        target=plan.target,
        issued_by=plan.issued_by,
        households_targeted=targets.households_targeted,
        visits_planned=targets.visits_planned,
        recently_visited=targets.recently_visited,
        launched_at=at,
    )
    fact = m.CampaignLaunched(
        **campaign.model_dump(
            include={"campaign_id", "warning_id", "scheme", "blocks", "trigger", "severity"}
        ),
        title=plan.title,
        households_targeted=targets.households_targeted,
        visits_planned=targets.visits_planned,
        recently_visited=targets.recently_visited,
    )
    return Change(campaign, [fact])


# -- fraud attempts ---------------------------------------------------------------------


def record_attempt(
    state: AttemptReportState | None, cmd: ReportFraudAttempt, at: datetime
) -> Change[AttemptReportState]:
    """An attempt report, once per report id; a dissuaded one is fraud dissuaded."""
    if state is not None:
        raise Rejected(m.REPORT_ALREADY_RECORDED, f"{cmd.report_id} was recorded before")
    report = AttemptReportState(**cmd.model_dump(), reported_at=at)
    facts: list[Fact] = [m.FraudAttemptReported(**cmd.model_dump())]
    if cmd.dissuaded:
        facts.append(
            m.FraudDissuaded(
                source_id=cmd.report_id,
                household_id=cmd.household_id,
                block=cmd.block,
                scheme=cmd.scheme,
                amount_yuan=cmd.amount_at_risk_yuan,
                source="attempt_report",
            )
        )
    return Change(report, facts)


@dataclass(frozen=True)
class ClusterRule:
    """`reports` attempt reports of one scheme in one block within `window` are a cluster."""

    reports: int
    window: timedelta


def sighted(
    state: ClusterWindowState | None,
    cmd: ReportFraudAttempt,
    *,
    at: datetime,
    rule: ClusterRule,
    cluster_id: str,
    campaign_id: str,
) -> Change[ClusterWindowState]:
    """One more report of a scheme in a block. Reports within the window of the previous
    one of an open cluster join it; otherwise enough of them within the window start a
    cluster (the caller launches its campaign, once)."""
    current = state or ClusterWindowState(block=cmd.block, scheme=cmd.scheme)
    counts: dict[str, object] = {
        "reports": current.reports + 1,
        "dissuaded": current.dissuaded + int(cmd.dissuaded),
        "dissuaded_yuan": current.dissuaded_yuan
        + (cmd.amount_at_risk_yuan if cmd.dissuaded else 0),
    }
    cluster = current.cluster
    if cluster is not None and at - cluster.last_at <= rule.window:
        joined = cluster.model_copy(update={"last_at": at, "reports": cluster.reports + 1})
        return Change(current.model_copy(update={**counts, "cluster": joined, "recent": []}))
    recent = [s for s in current.recent if at - s.at <= rule.window]
    recent.append(Sighting(report_id=cmd.report_id, at=at))
    if len(recent) < rule.reports:
        return Change(current.model_copy(update={**counts, "cluster": None, "recent": recent}))
    started = ActiveCluster(
        cluster_id=cluster_id,
        campaign_id=campaign_id,
        started_at=min(s.at for s in recent),
        last_at=at,
        reports=len(recent),
    )
    return Change(
        current.model_copy(
            update={
                **counts,
                "cluster": started,
                "recent": [],
                "clusters_launched": current.clusters_launched + 1,
            }
        )
    )
