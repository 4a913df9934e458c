# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""Erasing a resident on the real broker and FerretDB: the four services as processes on
the contract's topics (each with a consumer group starting at the topics' end and a
database of its own), one person registered across them, `station erase` run as the
operators run it, then every collection of every service database scanned (every string,
packed lists and outbox entries unpacked) for the phone in any spelling, the name and
the address: nothing left, and the other people's records as they were."""

import contextlib
import json
import os
import random
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infra.topics import ensure_contract_topics
from shared._kit.packing import is_packed, unpack_lines
from tests.integration.station_support import SERVICES, run_cli, running_station
from tests.support import Infra, command, eventually, produce

pytestmark = pytest.mark.integration

BLOCK = "block-05"
_SEPARATORS = re.compile(r"[\s\-().+]")


@pytest.fixture
async def services(infra: Infra, unique_id: Callable[[str], str]) -> AsyncIterator[dict[str, str]]:
    """The four services running; their databases by service (dropped afterwards)."""
    # the notifier's intake is newer than a broker started before it: made here if
    # missing, with its retention, as `scripts/infra up` makes every contract topic
    await ensure_contract_topics(infra.kafka_bootstrap_servers)
    async with running_station(infra, unique_id("erase")) as (_processes, databases):
        yield databases


def _strings(value: Any) -> list[str]:
    """Every string in a stored value, packed lists and outbox entries read too."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if not isinstance(value, str):
        return [] if value is None else [str(value)]
    found = [value]
    if is_packed(value):
        found += [s for line in unpack_lines(value) for s in _strings(json.loads(line))]
    elif value.startswith("Z ") and value.count(" ") >= 3:
        # a packed outbox entry: "Z <cause> <ids> <packed lines>"
        lines = unpack_lines(value.split(" ", 3)[3])
        found += [s for line in lines for s in _strings(json.loads(line))]
    elif value[:1] in "{[":
        with contextlib.suppress(ValueError):  # a text that only looks like JSON
            found += _strings(json.loads(value))
    return found


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


async def hits(infra: Infra, databases: dict[str, str], *needles: str) -> list[str]:
    """Where any needle (a phone: in any spelling) is still found, as `db.collection/_id`."""
    phone_digits = [_compact(n) for n in needles if n.isdigit()]
    words = [n for n in needles if not n.isdigit()]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
    found = []
    try:
        for database in databases.values():
            db = client[database]
            for collection in await db.list_collection_names():
                async for doc in db[collection].find({}):
                    for text in _strings(doc):
                        compact = _compact(text)
                        if any(d in compact for d in phone_digits) or any(w in text for w in words):
                            found.append(f"{database}.{collection}/{doc['_id']}: {text[:80]}")
    finally:
        await client.close()
    return found


def _day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


async def test_an_erased_resident_is_found_in_no_database(
    infra: Infra, services: dict[str, str], unique_id: Callable[[str], str]
) -> None:
    tag = unique_id("p").split("-")[-1][:8]
    phone = "139" + "".join(random.choices("0123456789", k=8))
    other_phone = "137" + phone[3:]
    name, other = f"蔺{tag}", f"邻居{tag}"
    address = f"幸福路{tag}号"
    spelled = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    bootstrap = infra.kafka_bootstrap_servers
    officer = command(
        "outreach.register_volunteer",
        f"officer-{tag}",
        {
            "volunteer_id": f"officer-{tag}",
            "name": "户籍民警 金警官",
            "organisation": "police",
            "blocks": [BLOCK],
            "phone": "13800000031",
            "max_open_visits": 10,
        },
    )
    await produce(bootstrap, "outreach.intake", [(officer.key, officer.to_bytes())])
    outreach_only = {"outreach": services["outreach"]}

    async def officer_registered() -> bool:
        return bool(await hits(infra, outreach_only, f"officer-{tag}"))

    # the home service is booked with him: registered first (another key, another partition)
    await eventually(officer_registered, timeout_s=60, what="the officer registered")
    sends = {
        "outreach.intake": [
            command(
                "outreach.register_household",
                f"hh-{tag}",
                {
                    "household_id": f"hh-{tag}",
                    "block": BLOCK,
                    "address": address,
                    "members": [
                        {"name": name, "age": 84, "phone": spelled},
                        {"name": other, "age": 50, "phone": other_phone},
                    ],
                    "lives_alone_elderly": True,
                },
            ),
            command(
                "outreach.request_home_service",
                f"home-{tag}",
                {
                    "request_id": f"home-{tag}",
                    "service": "id_card_replacement",
                    "person": {"name": name, "age": 84, "mobility_impaired": True},
                    "requested_by": {"name": name, "relation": "本人", "phone": phone},
                    "address": address,
                    "block": BLOCK,
                    "preferred_dates": [_day(1), _day(2)],
                },
            ),
        ],
        "mediation.intake": [
            command(
                "mediation.report_dispute",
                f"d-{tag}",
                {
                    "dispute_id": f"d-{tag}",
                    "source": "walk_in",
                    "category": "neighbour",
                    "parties": [
                        {"name": name, "role": "applicant", "phone": phone},
                        {"name": other, "role": "respondent", "phone": other_phone},
                    ],
                    "description": f"{name}家楼上漏水，住在{address}",
                    "block": BLOCK,
                },
            )
        ],
        "enterprise.intake": [
            command(
                "enterprise.register_enterprise",
                f"ent-{tag}",
                {
                    "enterprise_id": f"ent-{tag}",
                    "name": f"皮革厂{tag}",
                    "address": "工业园区 1 号",
                    "location": {"lat": 28.45, "lon": 119.92},
                    "licences": ["drug_precursor_3", "hazardous"],
                    "liaison_officer": {
                        "officer_id": f"officer-{tag}",
                        "name": "吕警官",
                        "phone": "13800000001",
                    },
                    "contact": {"name": name, "phone": phone},
                    "storage": [{"cas": "78-93-3", "capacity_kg": 1000}],
                },
            )
        ],
    }
    for topic, commands in sends.items():
        await produce(bootstrap, topic, [(c.key, c.to_bytes()) for c in commands])

    stored: set[str] = set()

    async def everywhere() -> bool:
        stored.update(h.split(".", 1)[0] for h in await hits(infra, services, phone))
        return stored >= set(services.values())

    # each service stored her (the notifier: the requester's notification and directory)
    try:
        await eventually(everywhere, timeout_s=90, what="the resident stored by every service")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; stored by {sorted(stored)} only") from None

    env = {**os.environ, **infra.env()}
    code, out = await run_cli(env, "erase", "--phone", spelled, "--lang", "en", timeout_s=90)

    assert code == 0, out
    for service in SERVICES:
        assert re.search(rf"{service}: \d+ records anonymised", out), out
    assert await hits(infra, services, phone, name, address) == []
    # the neighbour is not the one erased: still there, in the household and the case
    assert await hits(infra, services, other_phone, other)
