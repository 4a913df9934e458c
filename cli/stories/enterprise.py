"""Story 2 of the handbook: 30 t of butanone in a warehouse permitted 20 t; the surplus
10 t go to two chemical companies nearby, after the nearest declines and it is re-planned."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from typing import Any

from cli.events import Event
from cli.i18n import labels
from cli.stories.base import Story, kg
from cli.stories.stage import Stage

BUTANONE = "78-93-3"
LICENCES = ["drug_precursor_3", "hazardous"]

labels(
    {
        "demo.enterprise.title": {
            "zh": "企业超量存储与调剂（丁酮 30 吨，许可 20 吨）",
            "en": "Enterprise over capacity and redistribution (30 t butanone, permit 20 t)",
        },
        "demo.enterprise.registered": {
            "zh": "登记三家企业：合成革公司（许可 20 吨）与两家需要丁酮的化工企业",
            "en": "Three enterprises registered: the leather company (permit 20 t) and two "
            "chemical companies that need butanone",
        },
        "demo.enterprise.alert": {
            "zh": "超量预警：{name} 丁酮库存 {stock} 千克，超出许可 {surplus} 千克",
            "en": "Over-capacity alert: {name} holds {stock} kg of butanone, {surplus} kg over",
        },
        "demo.enterprise.proposed": {
            "zh": "调剂方案：{transfers}",
            "en": "Redistribution proposed: {transfers}",
        },
        "demo.enterprise.declined": {
            "zh": "{name} 拒绝接收 {quantity} 千克（库房检修），重新调剂",
            "en": "{name} declines {quantity} kg (warehouse under repair): re-planned",
        },
        "demo.enterprise.accepted": {
            "zh": "接收企业同意并完成交付：共 {quantity} 千克",
            "en": "Recipients accepted and took delivery: {quantity} kg in all",
        },
        "demo.enterprise.resolved": {
            "zh": "预警解除：库存回到 {stock} 千克（许可 {capacity} 千克）",
            "en": "Alert resolved: stock back to {stock} kg (permit {capacity} kg)",
        },
    }
)


def _enterprise(
    stage: Stage, key: str, name: str, *, lat: float, lon: float, capacity: float
) -> Any:
    eid = stage.id(key)
    return stage.command(
        "enterprise.register_enterprise",
        {
            "enterprise_id": eid,
            "name": name,
            "address": f"丽水市莲都区{name}",
            "location": {"lat": lat, "lon": lon},
            "licences": LICENCES,
            "liaison_officer": {
                "officer_id": stage.id("officer-zhou"),
                "name": "周警官",
                "phone": "13800000001",
            },
            "contact": {"name": f"{name}负责人", "phone": "13800000002"},
            "storage": [{"cas": BUTANONE, "capacity_kg": capacity}],
        },
        setup=True,
    )


async def play(stage: Stage) -> None:
    leather, chem_a, chem_b = (
        stage.id("ent-leather"),
        stage.id("ent-chem-a"),
        stage.id("ent-chem-b"),
    )
    names = {
        leather: "水阁合成革有限公司",
        chem_a: "莲都化工有限公司",
        chem_b: "碧湖精细化工有限公司",
    }
    await stage.setup(
        _enterprise(stage, "ent-leather", names[leather], lat=28.45, lon=119.92, capacity=20_000),
        _enterprise(stage, "ent-chem-a", names[chem_a], lat=28.47, lon=119.93, capacity=10_000),
        _enterprise(stage, "ent-chem-b", names[chem_b], lat=28.36, lon=119.81, capacity=15_000),
    )
    await stage.setup(
        *(
            stage.command(
                "enterprise.declare_demand",
                {"enterprise_id": eid, "cas": BUTANONE, "quantity_kg": need},
                setup=True,
            )
            for eid, need in ((chem_a, 6_000), (chem_b, 10_000))
        )
    )
    stage.say("demo.enterprise.registered")

    await stage.send(
        stage.command(
            "enterprise.declare_inventory",
            {
                "enterprise_id": leather,
                "cas": BUTANONE,
                "movement": "purchase",
                "quantity_kg": 30_000,
                "reference": "采购单 2026-06-03",
            },
        )
    )
    [alert] = await stage.expect("enterprise.over_capacity_detected")
    stage.say(
        "demo.enterprise.alert",
        name=alert.data["enterprise_name"],
        stock=kg(alert.data["stock_kg"]),
        surplus=kg(alert.data["surplus_kg"]),
    )
    alert_id = alert.data["alert_id"]
    [first] = await stage.expect("enterprise.redistribution_proposed")
    stage.say("demo.enterprise.proposed", transfers=_transfers(first))

    # the nearest recipient declines (ours, or whoever the matcher chose first)
    declined = first.data["transfers"][0]
    await stage.send(
        stage.command(
            "enterprise.respond_to_transfer",
            {
                "transfer_id": declined["transfer_id"],
                "enterprise_id": declined["to_enterprise_id"],
                "accepted": False,
                "reason": "库房检修，暂不能接收",
            },
        )
    )
    await stage.expect(
        "enterprise.transfer_declined", where=lambda d: d["transfer_id"] == declined["transfer_id"]
    )
    stage.say(
        "demo.enterprise.declined",
        name=declined["to_name"],
        quantity=kg(declined["quantity_kg"]),
    )

    # every other transfer proposed for this alert is accepted and delivered, until the
    # stock is back within the permit
    answered = {declined["transfer_id"]}
    resolved: list[Event] = []
    while not resolved:
        open_transfers = [
            t
            for p in stage.events()
            if p.type == "enterprise.redistribution_proposed" and p.data["alert_id"] == alert_id
            for t in p.data["transfers"]
            if t["transfer_id"] not in answered
        ]
        for transfer in open_transfers:
            answered.add(transfer["transfer_id"])
            await _accept_and_deliver(stage, transfer)
        await stage.watch.wait(
            lambda: bool(_resolved(stage, alert_id)) or _more(stage, alert_id, answered)
        )
        resolved = _resolved(stage, alert_id)
    delivered = sum(
        e.data["quantity_kg"] for e in stage.events() if e.type == "enterprise.transfer_completed"
    )
    stage.say("demo.enterprise.accepted", quantity=kg(delivered))
    stage.say(
        "demo.enterprise.resolved",
        stock=kg(resolved[0].data["stock_kg"]),
        capacity=kg(resolved[0].data["capacity_kg"]),
    )
    await stage.settle()
    # this run's recipients need nothing more: a later run's surplus is not offered to them
    await stage.setup(
        *(
            stage.command(
                "enterprise.declare_demand",
                {"enterprise_id": eid, "cas": BUTANONE, "quantity_kg": 0},
                setup=True,
            )
            for eid in (chem_a, chem_b)
        )
    )


async def _accept_and_deliver(stage: Stage, transfer: dict[str, Any]) -> None:
    tid = transfer["transfer_id"]
    await stage.send(
        stage.command(
            "enterprise.respond_to_transfer",
            {"transfer_id": tid, "enterprise_id": transfer["to_enterprise_id"], "accepted": True},
        )
    )
    await stage.expect("enterprise.transfer_accepted", where=lambda d: d["transfer_id"] == tid)
    await stage.send(
        stage.command(
            "enterprise.confirm_delivery",
            {"transfer_id": tid, "delivered_kg": transfer["quantity_kg"]},
        )
    )
    await stage.expect("enterprise.transfer_completed", where=lambda d: d["transfer_id"] == tid)


def _resolved(stage: Stage, alert_id: str) -> list[Event]:
    return [
        e
        for e in stage.events()
        if e.type == "enterprise.alert_resolved" and e.data["alert_id"] == alert_id
    ]


def _more(stage: Stage, alert_id: str, answered: set[str]) -> bool:
    return any(
        t["transfer_id"] not in answered
        for p in stage.events()
        if p.type == "enterprise.redistribution_proposed" and p.data["alert_id"] == alert_id
        for t in p.data["transfers"]
    )


def _transfers(proposal: Event) -> str:
    return ", ".join(
        f"{t['to_name']} {kg(t['quantity_kg'])} kg ({t['distance_km']:.1f} km)"
        for t in proposal.data["transfers"]
    )


STORY = Story(key="enterprise", title="demo.enterprise.title", steps=6, play=play)
