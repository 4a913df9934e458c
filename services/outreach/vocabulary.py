"""The outreach service's words: blocks, fraud schemes, organisations, and the parts of its
messages (members, parties, findings), shared by its commands, facts and state."""

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Scheme = Literal[
    "impersonate_official_order",
    "impersonate_police_procuratorate",
    "elderly_care_investment",
    "fake_refund",
    "fake_loan",
    "part_time_click_farming",
]
SCHEMES: frozenset[str] = frozenset(get_args(Scheme))
Organisation = Literal[
    "police",
    "bank",
    "womens_federation",
    "township",
    "community",
    "village_cadre",
    "building_head",
    "grid_worker",
    "volunteer",
]
Severity = Literal["low", "medium", "high"]
Trigger = Literal["warning", "fraud_cluster"]
Channel = Literal["phone", "sms", "online", "in_person"]
VisitOutcome = Literal["completed", "not_home", "refused"]
HomeService = Literal["id_card_replacement", "id_card_renewal", "residence_registration"]
# the mediation service's dispute categories and party roles (its case opens from ours)
DisputeCategory = Literal[
    "construction_payment",
    "labour_wage",
    "family",
    "neighbour",
    "commercial",
    "traffic",
    "property",
    "other",
]
PartyRole = Literal["applicant", "respondent", "third_party"]

BLOCK_PATTERN = re.compile(r"^block-(\d{2})$")
BLOCK_NOTE = "`block-01` … `block-18` (the county seat's blocks; else refused: unknown_block)"
SCHEME_NOTE = "one of " + ", ".join(sorted(SCHEMES)) + " (else refused: unknown_scheme)"


def block_id(number: int) -> str:
    return f"block-{number:02}"


def all_blocks(count: int) -> list[str]:
    """Every block of the county seat, in order."""
    return [block_id(n) for n in range(1, count + 1)]


def is_block(value: str, count: int) -> bool:
    """Whether `value` names one of the `count` blocks (`block-01` … `block-<count>`)."""
    found = BLOCK_PATTERN.match(value)
    return found is not None and 1 <= int(found.group(1)) <= count


class Part(BaseModel):
    """A part of a message or state: immutable, unknown fields ignored, numbers finite."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Member(Part):
    name: str = Field(min_length=1)
    age: int = Field(ge=0, le=150)
    phone: str | None = None
    mobility_impaired: bool = False


class Target(Part):
    """Who a warning is for: a household fits when any one of the given criteria holds."""

    business_types: list[str] | None = None
    min_age: int | None = Field(default=None, ge=0, le=150)
    all_households: bool | None = None

    def is_empty(self) -> bool:
        return not (self.business_types or self.min_age is not None or self.all_households)


class Party(Part):
    name: str = Field(min_length=1)
    role: PartyRole


class DisputeFinding(Part):
    category: DisputeCategory
    parties: list[Party]
    description: str
    resolved_on_site: bool


class FraudFinding(Part):
    scheme: str = Field(description=SCHEME_NOTE)
    amount_yuan: int = Field(ge=0)


class Findings(Part):
    dispute: DisputeFinding | None = None
    fraud_dissuaded: FraudFinding | None = None
    fire_hazard: str | None = None


class ServicePerson(Part):
    """The person a home service is for."""

    name: str = Field(min_length=1)
    age: int = Field(ge=0, le=150)
    mobility_impaired: bool = False


class Requester(Part):
    name: str = Field(min_length=1)
    relation: str
    phone: str = Field(min_length=1)


class HouseholdProfile(Part):
    household_id: str = Field(min_length=1)
    block: str = Field(description=BLOCK_NOTE)
    address: str = Field(min_length=1)
    members: list[Member]
    business_type: str | None = None
    lives_alone_elderly: bool = False
    prior_fraud_victim: bool = False


class VolunteerProfile(Part):
    volunteer_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    organisation: Organisation
    blocks: list[str] = Field(description=BLOCK_NOTE + "; at least one (else: no_blocks)")
    phone: str = Field(min_length=1)
    max_open_visits: int = Field(ge=0)
