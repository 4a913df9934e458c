"""Door-knocking helpers shared by the campaign stories: households and volunteers of a
block, a fraud warning, and the visits of the campaign it launches, reported back."""

from collections.abc import Callable
from typing import Any

from cli.events import Event
from cli.stories.stage import Stage

Findings = Callable[[dict[str, Any]], dict[str, Any] | None]


def household(
    stage: Stage, key: str, block: str, members: list[dict[str, Any]], **profile: Any
) -> Any:
    return stage.command(
        "outreach.register_household",
        {
            "household_id": stage.id(key),
            "block": block,
            "address": f"{block} {members[0]['name']}家",
            "members": members,
            **profile,
        },
        setup=True,
    )


def volunteer(stage: Stage, key: str, name: str, organisation: str, block: str) -> Any:
    return stage.command(
        "outreach.register_volunteer",
        {
            "volunteer_id": stage.id(key),
            "name": name,
            "organisation": organisation,
            "blocks": [block],
            "phone": "13800000031",
            "max_open_visits": 10,
        },
        setup=True,
    )


async def campaign_visits(stage: Stage) -> tuple[Event, list[Event]]:
    """The campaign this story's warning launched, and every visit it assigned."""
    [launched] = await stage.expect("outreach.campaign_launched")
    campaign = launched.data["campaign_id"]
    visits = await stage.expect(
        "outreach.visit_assigned",
        count=launched.data["visits_planned"],
        where=lambda d: d["campaign_id"] == campaign,
    )
    return launched, visits


async def report_visits(
    stage: Stage, visits: list[Event], topics: list[str], findings: Findings
) -> list[Event]:
    """Each volunteer reports their visit completed (with findings where there are some)."""
    commands = []
    for visit in visits:
        data: dict[str, Any] = {
            "visit_id": visit.data["visit_id"],
            "volunteer_id": visit.data["volunteer_id"],
            "outcome": "completed",
            "topics_covered": topics,
        }
        found = findings(visit.data)
        if found:
            data["findings"] = found
        commands.append(stage.command("outreach.report_visit", data))
    await stage.send(*commands)
    ids = {v.data["visit_id"] for v in visits}
    return await stage.expect(
        "outreach.visit_completed", count=len(ids), where=lambda d: d["visit_id"] in ids
    )
