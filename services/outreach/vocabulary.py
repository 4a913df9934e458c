"""The outreach service's words: blocks, fraud schemes, organisations, and the parts of its
messages (members, parties, findings), shared by its commands, facts and state.

Residents' and volunteers' names, ages, phones, addresses and household risk flags, and
dispute parties and descriptions, are `PERSONAL`: its facts carry them on
`outreach.private` only."""

import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared import PERSONAL, Age, Distinct, Id, Name, PhoneNumber, ShortText, Text, Yuan, bounded

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
MEMBERS_MAX = 20
PARTIES_MAX = 20
TOPICS_MAX = 20
BUSINESS_TYPES_MAX = 20
BLOCKS_MAX = 100
# a volunteer's open visits: what one person can carry at once, and a bound on how many
# visits one roster entry can hold
MAX_OPEN_VISITS = 100
# blocks named in a command: each at most once (which exist is checked by the rules)
Blocks = Annotated[list[Id], bounded(BLOCKS_MAX), Distinct]
Topics = Annotated[list[ShortText], bounded(TOPICS_MAX), Distinct]


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
    name: Annotated[Name, PERSONAL]
    age: Annotated[Age, PERSONAL]
    phone: Annotated[PhoneNumber | None, PERSONAL] = None
    mobility_impaired: Annotated[bool, PERSONAL] = False


class Target(Part):
    """Who a warning is for: a household fits when any one of the given criteria holds."""

    business_types: Annotated[list[ShortText], bounded(BUSINESS_TYPES_MAX), Distinct] | None = None
    min_age: Age | None = None
    all_households: bool | None = None

    def is_empty(self) -> bool:
        return not (self.business_types or self.min_age is not None or self.all_households)


class Party(Part):
    name: Annotated[Name, PERSONAL]
    role: PartyRole


class DisputeFinding(Part):
    category: DisputeCategory
    parties: Annotated[list[Party], bounded(PARTIES_MAX)]
    description: Annotated[Text, PERSONAL]
    resolved_on_site: bool


class FraudFinding(Part):
    scheme: Id = Field(description=SCHEME_NOTE)
    amount_yuan: Yuan


class Findings(Part):
    dispute: DisputeFinding | None = None
    fraud_dissuaded: FraudFinding | None = None
    fire_hazard: Text | None = None


class ServicePerson(Part):
    """The person a home service is for."""

    name: Annotated[Name, PERSONAL]
    age: Annotated[Age, PERSONAL]
    mobility_impaired: Annotated[bool, PERSONAL] = False


class Requester(Part):
    name: Annotated[Name, PERSONAL]
    relation: ShortText
    phone: Annotated[PhoneNumber, PERSONAL]


class HouseholdProfile(Part):
    household_id: Id
    block: Id = Field(description=BLOCK_NOTE)
    address: Annotated[ShortText, PERSONAL]
    members: Annotated[list[Member], bounded(MEMBERS_MAX)]
    business_type: ShortText | None = None
    lives_alone_elderly: Annotated[bool, PERSONAL] = False
    prior_fraud_victim: Annotated[bool, PERSONAL] = False


class VolunteerProfile(Part):
    volunteer_id: Id
    name: Annotated[Name, PERSONAL]
    organisation: Organisation
    blocks: Blocks = Field(description=BLOCK_NOTE + "; at least one (else: no_blocks)")
    phone: Annotated[PhoneNumber, PERSONAL]
    max_open_visits: int = Field(ge=1, le=MAX_OPEN_VISITS)
