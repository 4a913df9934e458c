"""The service kit: what every service is built from, and nothing of any service's rules.

A service is its messages (`Command`, `Fact`, `Timer` models carrying their type), its
pure domain (decisions from a `State` to a `Change`, refusals as `Rejected` with a
`Reason`), handlers that apply decisions to an `AggregateStore` under a `Context`, and a
`Service` whose `wire` function registers them on the `Runtime`. Residents' personal
fields are marked `PERSONAL` where a fact is defined, and travel on `<service>.private`.
Delivery (inbox, outbox, dead letters, retries, timers) lives in the private
`shared._kit`; tests of rules use `shared.testing`.
"""

from shared._kit.aggregates import AggregateStore, Change
from shared._kit.context import Context
from shared._kit.envelope import stable_id
from shared._kit.erasure import EraseOrder, Erasure, PersonErasedFact
from shared._kit.fields import (
    Age,
    Day,
    Distinct,
    EmailAddress,
    Id,
    Kilograms,
    Moment,
    Name,
    PhoneNumber,
    ShortText,
    SignedKilograms,
    Text,
    Yuan,
    bounded,
    distinct_by,
)
from shared._kit.messages import Command, Fact, Reason, Rejected, State, Timer
from shared._kit.packing import packed_list
from shared._kit.personal import PERSONAL
from shared._kit.runtime import Runtime
from shared._kit.server import Service
from shared._kit.settings import Port, ServiceSettings, settings_for

__all__ = [
    "PERSONAL",
    "Age",
    "AggregateStore",
    "Change",
    "Command",
    "Context",
    "Day",
    "Distinct",
    "EmailAddress",
    "EraseOrder",
    "Erasure",
    "Fact",
    "Id",
    "Kilograms",
    "Moment",
    "Name",
    "PersonErasedFact",
    "PhoneNumber",
    "Port",
    "Reason",
    "Rejected",
    "Runtime",
    "Service",
    "ServiceSettings",
    "ShortText",
    "SignedKilograms",
    "State",
    "Text",
    "Timer",
    "Yuan",
    "bounded",
    "distinct_by",
    "packed_list",
    "settings_for",
    "stable_id",
]
