"""Erasing a resident, and personal fields that expire: the anonymiser every service runs.

A resident is named by a phone number or an ID number. A record (any mapping inside an
aggregate's state, an event in its outbox, a finished message's answered events, a
timer's payload) that holds one of them is the resident's: its personal fields become a
placeholder and its flags are reset, and the strings those fields held (the name, the
address) are then looked for everywhere else in the service's database, so a copy of the
name in a description or an event goes too. What a service adds to that (a household's
address when one of its members is erased) it names by store (`with_person`).

Each document is rewritten by a compare-and-set on its version (no transactions on
FerretDB). The search is a scan of every collection in Python: FerretDB has no rich
queries over packed lists and sub-documents, and at a station's scale (thousands of
households, cases and notifications) one erasure reads every document once per pass, in
seconds; erasures are rare. The same anonymiser, without a person, empties every personal
field of one record when its retention period ends (`Expiry`).
"""

import json
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Self

import structlog
from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pymongo.asynchronous.collection import AsyncCollection

from shared._kit.aggregates import AggregateStore, Change
from shared._kit.context import Context
from shared._kit.dedupe import Processed
from shared._kit.envelope import CloudEvent
from shared._kit.fields import Id, PhoneNumber
from shared._kit.messages import Command, Fact, Reason, Rejected, State
from shared._kit.outbox import entry_cause, entry_events, outbox_entries

log = structlog.get_logger("station.erasure")
Document = dict[str, Any]

PLACEHOLDER: Final = "已删除"
ERASURE_ID_TAKEN: Final = Reason(
    "erasure_id_taken", "an erasure with this erasure_id was carried out before"
)
# the fields of a record that say who a person is, or where they live or what befell them
PERSONAL_KEYS: Final = frozenset(
    {
        "name",
        "phone",
        "email",
        "address",
        "id_number",
        "description",
        "notes",
        "mediator_name",
        "mediator_phone",
        "to_name",
        "party",
        "obligation",
        "title",
        "text",
        "detail",
    }
)
# fields that hold an address to reach someone: emptied (None) where the type allows it,
# else the placeholder, else (a field typed as a phone number) ERASED_PHONE
CONTACT_KEYS: Final = frozenset({"phone", "email", "mediator_phone"})
# a valid landline no one has (no subscriber number starts with 0): the stand-in where a
# record's type requires a phone number
ERASED_PHONE: Final = "010-00000000"
_MAX_FALLBACKS: Final = 50
# those whose values are looked for inside other strings (a name in a description)
NAMING_KEYS: Final = frozenset({"name", "address", "party", "to_name", "mediator_name", "email"})
# what a record says about the person's circumstances: reset, not kept
PERSONAL_FLAGS: Final = frozenset(
    {"lives_alone_elderly", "prior_fraud_victim", "mobility_impaired"}
)
# a name of one character would match half the database: such strings are not looked for
SHORTEST_SECRET: Final = 2
_SEPARATORS = re.compile(r"[\s\-().+]")
_ID_18 = re.compile(r"\d{17}[\dX]")
_ID_15 = re.compile(r"\d{15}")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def normalise_id_number(value: str) -> str:
    """A resident ID number: 18 characters whose last is its check digit (GB 11643), or
    the 15 digits of the first generation; upper-case X. ValueError otherwise."""
    text = unicodedata.normalize("NFKC", value).strip().upper()
    if _ID_15.fullmatch(text):
        return text
    if not _ID_18.fullmatch(text):
        raise ValueError("an ID number has 18 characters (17 digits and a check) or 15 digits")
    total = sum(int(d) * w for d, w in zip(text, _ID_WEIGHTS, strict=False))
    if _ID_CHECK[total % 11] != text[-1]:
        raise ValueError("the ID number's check digit does not match")
    return text


def _id_number(value: object) -> object:
    if isinstance(value, str):
        if len(value) > 32:
            raise ValueError("an ID number has at most 32 characters")
        return normalise_id_number(value)
    return value


IdNumber = Annotated[str, BeforeValidator(_id_number)]


def _holds_text(key: object) -> bool:
    """Whether a value under `key` is a text a name may appear in (a description, a
    notification's `requester_name` parameter), not an id, a code or a status."""
    return isinstance(key, str) and (key in PERSONAL_KEYS or key.endswith("_name"))


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


@dataclass(frozen=True)
class Person:
    """Whom to erase: a normalised phone number, an ID number, or both."""

    phone: str | None = None
    id_number: str | None = None

    def _needles(self) -> list[str]:
        needles = []
        if self.phone:
            digits = self.phone.replace("-", "")
            needles.append(digits)
            if digits.startswith("0"):  # a landline written from abroad drops its 0
                needles.append("86" + digits[1:])
        if self.id_number:
            needles.append(self.id_number.upper())
        return needles

    def named_in(self, text: str) -> bool:
        """Whether a string holds the phone (in any spelling) or the ID number."""
        compact = _compact(text)
        return any(n in compact for n in self._needles())


@dataclass
class Scrub:
    """One pass over documents: the person (None: every record is scrubbed) and the strings
    known to be theirs."""

    person: Person | None
    # names and addresses, looked for inside any string
    secrets: set[str] = field(default_factory=set)
    # free texts of theirs (a description, a message), looked for as whole strings: a
    # short note ("ok") must not take every string holding it with it
    texts: set[str] = field(default_factory=set)
    with_person: Collection[str] = ()

    def names(self, text: str) -> bool:
        if self.person is not None and self.person.named_in(text):
            return True
        return text in self.texts or any(s in text for s in self.secrets)

    def _owns(self, record: Mapping[str, Any]) -> bool:
        """Whether a record is the person's: a value holds their phone or ID number, or
        its name is one of theirs found elsewhere."""
        if self.person is None:
            return True
        if any(isinstance(v, str) and self.person.named_in(v) for v in record.values()):
            return True
        # by name alone only a record that reaches nobody else: a namesake with a phone or
        # an address of their own is another resident, and keeps their record
        reaches_another = any(
            isinstance(record.get(k), str) and record[k] not in ("", PLACEHOLDER, ERASED_PHONE)
            for k in CONTACT_KEYS
        )
        name = record.get("name")
        return not reaches_another and isinstance(name, str) and name in self.secrets

    def learn(self, value: Any, *, top: bool = True) -> None:
        """Add to `secrets` the personal strings of every record in `value` that is the
        person's (and the `with_person` fields of the whole value when any is)."""
        found = self._learn(value)
        if found and top and isinstance(value, Mapping):
            self._take(value, self.with_person)

    def _learn(self, value: Any) -> bool:
        if isinstance(value, Mapping):
            found = False
            for child in value.values():
                found |= self._learn(child)
            if self._owns(value):
                self._take(value, PERSONAL_KEYS)
                return True
            return found
        if isinstance(value, list):
            found_in = [self._learn(v) for v in value]  # every item learned, not the first
            return any(found_in)
        return False

    def _take(self, record: Mapping[str, Any], keys: Collection[str]) -> None:
        for key in keys:
            text = record.get(key)
            if not isinstance(text, str) or text in (PLACEHOLDER, ERASED_PHONE):
                continue
            if key in NAMING_KEYS and len(text) >= SHORTEST_SECRET:
                self.secrets.add(text)
            elif text:
                self.texts.add(text)

    def scrubbed(  # noqa: PLR0912 - one walk, one rule per kind
        self, value: Any, *, free_text: bool = True
    ) -> tuple[Any, int]:
        """`value` with the person's records anonymised and every string naming them replaced
        by the placeholder, and how many values changed. `free_text`: `value` is a text a
        name may appear in; under any other key (an id, a code, a status) only a value
        holding the phone or ID number, or a whole text of theirs, goes."""
        if isinstance(value, Mapping):
            owned = self._owns(value)
            out: dict[str, Any] = {}
            changed = 0
            for key, child in value.items():
                if owned and key in CONTACT_KEYS and isinstance(child, str):
                    n = int(child not in (PLACEHOLDER, ERASED_PHONE))
                    out[key] = None if n else child
                elif owned and key in PERSONAL_KEYS and isinstance(child, str):
                    n = int(child not in (PLACEHOLDER, ""))
                    out[key] = PLACEHOLDER if n else child
                elif key == "name" and child in self.secrets:
                    out[key], n = child, 0  # a namesake's own record (see `_owns`)
                else:
                    out[key], n = self.scrubbed(child, free_text=_holds_text(key))
                changed += n
            # a record holding the person's (a household with its member) says no more
            # about their circumstances either
            if owned or changed:
                for key in PERSONAL_FLAGS & out.keys():
                    if out[key] is True:
                        out[key] = False
                        changed += 1
            return out, changed
        if isinstance(value, list):
            items = [self.scrubbed(v, free_text=free_text) for v in value]
            return [v for v, _ in items], sum(n for _, n in items)
        if not isinstance(value, str) or value in (PLACEHOLDER, ERASED_PHONE):
            return value, 0
        if (self.person is not None and self.person.named_in(value)) or value in self.texts:
            return PLACEHOLDER, 1
        if not free_text:
            return value, 0
        # a name or address inside another text (a description naming them) is replaced
        # there, the rest of the text kept: "张三化工" must not become a placeholder whole
        # because a resident is called 张三
        replaced = value
        for secret in sorted(self.secrets, key=len, reverse=True):
            replaced = replaced.replace(secret, PLACEHOLDER)
        return replaced, int(replaced != value)


def validated(state_type: type[State], data: Any, original: Any = None) -> State:
    """The scrubbed state as its type takes it: a contact field its type requires gets
    the placeholder, then (a phone number's type) ERASED_PHONE; a value its type refuses
    otherwise (a code that held the phone) is put back as it was rather than fail the
    erasure for good (the fuzzing found ids that held a learned name)."""
    for _ in range(_MAX_FALLBACKS):
        try:
            return state_type.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                _fall_back(data, error["loc"], original)
    return state_type.model_validate(data)


def _at(data: Any, path: Sequence[int | str]) -> Any:
    for step in path:
        data = data[step]
    return data


def _fall_back(data: Any, loc: tuple[int | str, ...], original: Any) -> None:
    *path, last = loc
    parent = _at(data, path)
    current = parent[last]
    if current is None:
        parent[last] = PLACEHOLDER
    elif current == PLACEHOLDER:
        parent[last] = ERASED_PHONE
    elif original is not None:
        try:
            parent[last] = _at(original, loc)
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"an anonymised record does not validate at {loc}") from None
    else:
        raise ValueError(f"an anonymised record does not validate at {loc}")


def scrubbed_events(scrub: Scrub, events: list[CloudEvent]) -> tuple[list[CloudEvent], int]:
    """Events with their data scrubbed (ids, types and subjects stay)."""
    out, changed = [], 0
    for event in events:
        data, n = scrub.scrubbed(event.data or {})
        changed += n
        out.append(event.model_copy(update={"data": data}) if n else event)
    return out, changed


def scrubbed_outbox(scrub: Scrub, outbox: list[Any]) -> tuple[list[Any], int]:
    """An outbox whose entries' events are scrubbed, each entry kept with its cause."""
    entries: list[Any] = []
    changed = 0
    for entry in outbox:
        events, n = scrubbed_events(scrub, entry_events(entry))
        changed += n
        entries.extend(outbox_entries(events, entry_cause(entry)) if n else [entry])
    return entries, changed


def scrubbed_state(
    scrub: Scrub, store: AggregateStore[Any], doc: Document
) -> tuple[Document | None, int]:
    """The document to store instead of `doc` (None: nothing names the person)."""
    state = store.state_type.model_validate(doc["state"])
    data, n = scrub.scrubbed(state.model_dump(mode="python"))
    outbox, m = scrubbed_outbox(scrub, list(doc.get("outbox") or []))
    if not n + m:
        return None, 0
    new_state = validated(store.state_type, data, state.model_dump(mode="python")) if n else state
    return {**doc, "state": new_state.model_dump(mode="json"), "outbox": outbox}, n + m


class EraseOrder(Command):
    """Erase one resident from a service's database: by phone, by ID number, or both."""

    erasure_id: Id
    phone: PhoneNumber | None = None
    id_number: IdNumber | None = Field(
        default=None, description="18 characters with a valid check digit, or 15 digits"
    )

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if self.phone is None and self.id_number is None:
            raise ValueError("give the phone or the ID number of the person to erase")
        return self

    def person(self) -> Person:
        return Person(self.phone, self.id_number)


class PersonErasedFact(Fact):
    """A resident was erased from the service's database: how many records changed (no
    personal data: the erasure's id is all that ties it to the order)."""

    erasure_id: str
    records_anonymised: int


class ErasureState(State):
    erasure_id: str
    records_anonymised: int
    erased_at: datetime


@dataclass
class Eraser:
    """Erases a person from every collection of a service: its stores (state and outbox),
    its finished messages' answered events and its timers' payloads."""

    stores: list[AggregateStore[Any]]
    finished: Processed
    timers: AsyncCollection[Document]
    with_person: Mapping[str, Collection[str]] = field(default_factory=dict)

    async def erase(self, person: Person) -> int:
        """Anonymise every record of the person; how many documents changed."""
        # the records of finished messages still to be written in the background hold
        # what those messages answered: written first, so the scan sees them
        await self.finished.written_later()
        scrub = Scrub(person)
        # first learn every string of theirs (a name is found where the phone is), then
        # scrub: a description naming them in another aggregate goes too
        for store in self.stores:
            scrub.with_person = self.with_person.get(store.name, ())
            async for doc in store.collection.find({}):
                scrub.learn(_state_of(store, doc))
                for event in _outbox_events(doc):
                    scrub.learn(event.data or {}, top=False)
        scrub.with_person = ()
        async for doc in self.finished.collection.find({}, {"events": 1}):
            for text in doc.get("events") or []:
                scrub.learn(json.loads(text).get("data") or {}, top=False)
        changed = 0
        for store in self.stores:
            changed += await self._scrub_store(scrub, store)
        changed += await self._scrub_processed(scrub)
        changed += await self._scrub_timers(scrub)
        log.info("person_erased", records_anonymised=changed)
        return changed

    async def _scrub_store(self, scrub: Scrub, store: AggregateStore[Any]) -> int:
        changed = 0
        ids = [d["_id"] async for d in store.collection.find({}, {"_id": 1})]
        for aggregate_id in ids:
            changed += await scrub_aggregate(scrub, store, aggregate_id)
        return changed

    async def _scrub_processed(self, scrub: Scrub) -> int:
        changed = 0
        async for doc in self.finished.collection.find({}):
            events = []
            n = 0
            for text in doc.get("events") or []:
                event, k = scrubbed_events(scrub, [CloudEvent.model_validate_json(text)])
                events.append(event[0].model_dump_json(exclude_none=True))
                n += k
            if n:
                await self.finished.collection.update_one(
                    {"_id": doc["_id"]}, {"$set": {"events": events}}
                )
                changed += 1
        return changed

    async def _scrub_timers(self, scrub: Scrub) -> int:
        changed = 0
        async for doc in self.timers.find({}):
            data, n = scrub.scrubbed(doc.get("data") or {})
            if n:
                result = await self.timers.update_one(
                    {"_id": doc["_id"], "data": doc.get("data")}, {"$set": {"data": data}}
                )
                changed += result.modified_count
        return changed


def _state_of(store: AggregateStore[Any], doc: Document) -> Any:
    # as a tree of plain values: the packed lists (shared/_kit/packing.py) unpacked
    return store.state_type.model_validate(doc["state"]).model_dump(mode="python")


def _outbox_events(doc: Document) -> list[CloudEvent]:
    return [e for entry in doc.get("outbox") or [] for e in entry_events(entry)]


async def scrub_aggregate(
    scrub: Scrub, store: AggregateStore[Any], aggregate_id: str, *, learn: bool = False
) -> int:
    """Scrub one aggregate's document by compare-and-set (read again on a conflict);
    1 if it changed, else 0. `learn`: its own personal strings are looked for in it
    first (an expiring record: its names in its outbox's events go too)."""
    while True:
        store.forget(aggregate_id)
        doc = await store.collection.find_one({"_id": aggregate_id})
        if doc is None:
            return 0
        if learn:
            scrub.learn(_state_of(store, doc))
        new, _ = scrubbed_state(scrub, store, doc)
        if new is None:
            return 0
        if await store._write(aggregate_id, doc, new) is not None:
            return 1


def erasure_recorded(
    state: ErasureState | None, erasure_id: str, count: int, now: datetime, fact: Fact
) -> Change[ErasureState] | None:
    """The erasure's record and its fact, once. A redelivered order never gets here (the
    record's inbox has it); another order under a taken erasure id is refused, never
    silently dropped: it may name another person."""
    if state is not None:
        raise Rejected(ERASURE_ID_TAKEN, f"erasure {erasure_id} was carried out before")
    return Change(
        ErasureState(erasure_id=erasure_id, records_anonymised=count, erased_at=now), [fact]
    )


@dataclass
class Erasure:
    """A service's erasures: the anonymiser and the record of each erasure done."""

    eraser: Eraser
    erasures: AggregateStore[ErasureState]

    async def erase(self, order: EraseOrder, ctx: Context, fact: Callable[[int], Fact]) -> None:
        """Anonymise the person's records, then record the erasure with its fact. A
        redelivered order finds the record and does not scan again."""
        if ctx.unit is not None:
            # what earlier messages of the batch staged is written first, or a household
            # registered just before the order would be stored after the scan, unerased
            await ctx.unit.before_written_at_once(self.erasures, order.erasure_id)
        if await self.erasures.load(order.erasure_id) is not None:
            count = 0
        else:
            count = await self.eraser.erase(order.person())
        await self.erasures.apply(
            order.erasure_id,
            ctx,
            lambda s: erasure_recorded(s, order.erasure_id, count, ctx.now(), fact(count)),
        )


# when a record's personal fields may go: None while it is still in use
Expires = Callable[[Any], datetime | None]


@dataclass
class Expiry:
    """Personal fields of finished records dropped after a retention period: one pass
    over the registered stores (the kit runs it with its housekeeping)."""

    retention: timedelta
    now: Callable[[], datetime]
    rules: list[tuple[AggregateStore[Any], Expires]] = field(default_factory=list)

    def add(self, store: AggregateStore[Any], expires: Expires) -> None:
        self.rules.append((store, expires))

    async def sweep(self) -> int:
        """Anonymise every record finished more than the retention period ago; how many
        documents changed (a record already anonymised changes nothing)."""
        cutoff = self.now() - self.retention
        changed = 0
        for store, expires in self.rules:
            due = [
                str(doc["_id"])
                async for doc in store.collection.find({})
                if (at := expires(store.state_type.model_validate(doc["state"]))) is not None
                and at <= cutoff
            ]
            for aggregate_id in due:
                changed += await scrub_aggregate(Scrub(None), store, aggregate_id, learn=True)
        if changed:
            log.info("personal_data_expired", records_anonymised=changed)
        return changed
