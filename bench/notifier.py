"""Benchmark: from a purchase that puts an enterprise over its permit to the liaison
officer's SMS at the gateway, through the enterprise and notifier services.

    uv run python -m bench.notifier [--alerts 100]

Needs KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL (e.g. `eval "$(scripts/infra env)"`).
Starts the enterprise and notifier services as processes (consumer groups, databases
and the notifier's events topic of their own) and the development SMS gateway and mail
sink (infra/dev_sinks.py) in this process; registers 2 x N enterprises, each with a
liaison officer of its own; then times, for each alert, the command's hand-over to Kafka
until the gateway receives the officer's SMS: N purchases one at a time, each once the
notifier is done with the one before (the latency of one alert), then N purchases at
once (a burst, where later alerts queue behind earlier ones). Each alert also sends the
brigade an SMS and an e-mail and writes log notifications, as in the stack.
"""

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.common import drop_database, report
from infra.dev_sinks import MailSink, SmsGateway, serve_sms, serve_smtp
from infra.kafka import ensure_topics
from shared._kit.envelope import CloudEvent, kafka_headers
from shared._kit.kafka_client import client_options
from tests.processes import ServiceProcess
from tests.support import command, eventually, free_port, start_group_at_end

BUTANONE = "78-93-3"
BRIGADE = "13700000110"


def _registration(eid: str, officer_phone: str) -> CloudEvent:
    return command(
        "enterprise.register_enterprise",
        eid,
        {
            "enterprise_id": eid,
            "name": f"合成革{eid[-6:]}",
            "address": "丽水",
            "location": {"lat": 28.45, "lon": 119.92},
            "licences": ["drug_precursor_3", "hazardous"],
            "liaison_officer": {"officer_id": f"o-{eid}", "name": "吕警官", "phone": officer_phone},
            "contact": {"name": "厂长", "phone": "13900000002"},
            "storage": [{"cas": BUTANONE, "capacity_kg": 20_000}],
        },
    )


def _purchase(eid: str) -> CloudEvent:
    return command(
        "enterprise.declare_inventory",
        eid,
        {"enterprise_id": eid, "cas": BUTANONE, "movement": "purchase", "quantity_kg": 30_000},
    )


async def _send(producer: AIOKafkaProducer, events: list[CloudEvent]) -> None:
    futures = [
        await producer.send("enterprise.intake", e.to_bytes(), key=e.key, headers=kafka_headers())
        for e in events
    ]
    await asyncio.gather(*futures)


async def _wait_sms(
    gateway: SmsGateway, phones: list[str], *, about: str = "", timeout_s: float = 1200
) -> None:
    async def arrived() -> bool:
        return all(any(about in m["text"] for m in gateway.to(p)) for p in phones)

    await eventually(arrived, timeout_s=timeout_s, what=f"{len(phones)} officers' SMS")


async def run(alerts: int) -> None:
    bootstrap, mongodb = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URL"]
    suffix = uuid.uuid4().hex[:8]
    prefix = f"bench-notifier-{suffix}"
    groups = {"enterprise": f"bench-enterprise-{suffix}", "notifier": prefix}
    databases = {name: f"bench_{name}_{suffix}" for name in groups}
    await ensure_topics(bootstrap, [f"{prefix}.events"])
    await start_group_at_end(
        bootstrap, groups["enterprise"], ["enterprise.intake", "enterprise.events"]
    )
    await start_group_at_end(
        bootstrap, groups["notifier"], ["enterprise.events", "mediation.events", "outreach.events"]
    )
    gateway, mail = SmsGateway(log=lambda _line: None), MailSink(log=lambda _line: None)
    sms_port, smtp_port = free_port(), free_port()
    servers = [
        await serve_sms(gateway, "127.0.0.1", sms_port),
        await serve_smtp(mail, "127.0.0.1", smtp_port),
    ]
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MONGODB_URL": mongodb,
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    services = [
        ServiceProcess(
            "enterprise",
            {
                **common,
                "ENTERPRISE_CONSUMER_GROUP": groups["enterprise"],
                "ENTERPRISE_MONGODB_DATABASE": databases["enterprise"],
            },
        ),
        ServiceProcess(
            "notifier",
            {
                **common,
                "NOTIFIER_CONSUMER_GROUP": groups["notifier"],
                "NOTIFIER_MONGODB_DATABASE": databases["notifier"],
                "NOTIFIER_TOPIC_PREFIX": prefix,
                "NOTIFIER_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms_port}/sms",
                "NOTIFIER_SMTP_PORT": str(smtp_port),
                "NOTIFIER_BRIGADE_PHONE": BRIGADE,
            },
        ),
    ]
    producer = AIOKafkaProducer(**client_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for service in services:
            await service.start()
        for service in services:
            await service.wait_ready()
        ids = [f"bench-{suffix}-{n:04}" for n in range(2 * alerts)]
        phones = {eid: f"13{n:09d}" for n, eid in enumerate(ids, start=int(suffix, 16) % 10**6)}
        await _send(producer, [_registration(eid, phones[eid]) for eid in ids])
        await _registered(services[0].port, len(ids))

        latencies: list[float] = []
        started = time.perf_counter()
        for eid in ids[:alerts]:
            sent_at = time.time()
            await _send(producer, [_purchase(eid)])
            await _wait_sms(gateway, [phones[eid]])
            latencies.append((gateway.to(phones[eid])[0]["received_at"] - sent_at) * 1000)
            # the next alert finds the notifier (nearly) idle: the last of this alert's
            # messages, the brigade's about its escalation (nobody declared a need), is in
            await _wait_sms(gateway, [BRIGADE], about=eid)
        report(
            "purchase -> officer SMS, one at a time",
            alerts,
            time.perf_counter() - started,
            latencies,
        )

        burst = ids[alerts:]
        sent_at = time.time()
        started = time.perf_counter()
        await _send(producer, [_purchase(eid) for eid in burst])
        await _wait_sms(gateway, [phones[eid] for eid in burst])
        latencies = [(gateway.to(phones[e])[0]["received_at"] - sent_at) * 1000 for e in burst]
        report(
            f"purchase -> officer SMS, {alerts} at once",
            alerts,
            time.perf_counter() - started,
            latencies,
        )
        print(f"gateway requests: {len(gateway.requests)}, e-mails: {len(mail.messages)}")
    finally:
        await producer.stop()
        for service in services:
            await service.stop(timeout_s=60)
            await service.kill()
            if os.environ.get("BENCH_LOG_DIR"):
                path = f"{os.environ['BENCH_LOG_DIR']}/{service.name}.log"
                with open(path, "w", encoding="utf-8") as out:  # noqa: ASYNC230
                    out.write("\n".join(service.lines))
        for server in servers:
            server.close()
        for database in databases.values():
            await drop_database(mongodb, database)


async def _registered(port: int, count: int) -> None:
    async def done() -> bool:
        async with httpx.AsyncClient() as http:
            stats: dict[str, Any] = (await http.get(f"http://127.0.0.1:{port}/stats")).json()
        return bool(stats.get("enterprises", 0) >= count)

    await eventually(done, timeout_s=300, what=f"{count} enterprises registered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.alerts))


if __name__ == "__main__":
    main()
