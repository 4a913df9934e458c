"""Story 4 of the handbook, second half: on a door-knocking visit an officer finds a couple
(the Wus) quarrelling and settles it on the spot; mediation opens the case and resolves it
at once."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from typing import Any

from cli.i18n import labels
from cli.stories.base import Story, words
from cli.stories.stage import Stage
from cli.stories.visits import campaign_visits, household, report_visits, volunteer

BLOCK = "block-11"

labels(
    {
        "demo.dispute.title": {
            "zh": "走访中发现吴家夫妻纠纷，当场化解",
            "en": "The Wus' quarrel found on a visit and settled on the spot",
        },
        "demo.dispute.registered": {
            "zh": "{block}：登记吴家，社区民警负责走访",
            "en": "{block}: the Wus registered, the community officer visits",
        },
        "demo.dispute.launched": {
            "zh": "{block} 入户走访：防刷单诈骗宣传、矛盾排查，计划 {planned} 户",
            "en": "Visits in {block}: click-farming fraud awareness and dispute screening, "
            "{planned} planned",
        },
        "demo.dispute.found": {
            "zh": "{who} 走访吴家，发现夫妻争吵，当场调解",
            "en": "{who} visits the Wus, finds the couple quarrelling and settles it",
        },
        "demo.dispute.resolved": {
            "zh": "调解中心立案并当即办结（{how}）",
            "en": "Mediation opens the case and resolves it at once ({how})",
        },
    }
)


async def play(stage: Stage) -> None:
    wus = stage.id("hh-wu")
    await stage.setup(
        household(
            stage,
            "hh-wu",
            BLOCK,
            [{"name": "吴先生", "age": 45, "phone": "13800000051"}, {"name": "吴太太", "age": 43}],
        ),
        volunteer(stage, "vol-officer-ying", "社区民警 应警官", "police", BLOCK),
    )
    stage.say("demo.dispute.registered", block=BLOCK)

    await stage.send(
        stage.command(
            "outreach.issue_fraud_warning",
            {
                "warning_id": stage.id("warning-click-farming"),
                "scheme": "part_time_click_farming",
                "title": "刷单返利诈骗",
                "description": "以兼职刷单、高额返利为诱饵，先小额返利再骗大额转账",
                "target": {"all_households": True},
                "blocks": [BLOCK],
                "severity": "medium",
                "issued_by": "县公安局反诈中心",
            },
        )
    )
    launched, visits = await campaign_visits(stage)
    stage.say("demo.dispute.launched", block=BLOCK, planned=launched.data["visits_planned"])

    def quarrel(visit: dict[str, Any]) -> dict[str, Any] | None:
        if visit["household_id"] != wus:
            return None
        return {
            "dispute": {
                "category": "family",
                "parties": [
                    {"name": "吴先生", "role": "applicant"},
                    {"name": "吴太太", "role": "respondent"},
                ],
                "description": "夫妻因家务和开销争吵，民警当场劝和",
                "resolved_on_site": True,
            }
        }

    await report_visits(stage, visits, ["telecom_fraud", "dispute_screening"], findings=quarrel)
    [found] = await stage.expect(
        "outreach.dispute_detected", where=lambda d: d["household_id"] == wus
    )
    stage.say("demo.dispute.found", who=found.data["found_by"])
    [resolved] = await stage.expect("mediation.case_resolved")
    stage.say("demo.dispute.resolved", how=words(resolved.data["how"], stage.lang))
    await stage.settle()


STORY = Story(key="wus", title="demo.dispute.title", steps=4, play=play)
