"""Story 1 of the handbook: Ms. Lei's renovation is stuck because the contractor (Chen) and a
worker (Ye) disagree over pay; the station's full-time mediator brings them together, they
agree, the follow-up finds both obligations kept, and the case is resolved."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from cli.i18n import labels
from cli.stories.base import Story, in_days, now, words
from cli.stories.stage import Stage

BLOCK = "block-03"

labels(
    {
        "demo.mediation.title": {
            "zh": "雷女士装修纠纷调解",
            "en": "Ms. Lei's renovation dispute mediated",
        },
        "demo.mediation.registered": {
            "zh": "登记调解员：专职调解员吕某、社区调解员王某",
            "en": "Mediators registered: Lü (full-time, station) and Wang (community)",
        },
        "demo.mediation.opened": {
            "zh": "雷女士到调解中心求助：立案 {case}（{category}，紧急）",
            "en": "Ms. Lei asks the mediation centre for help: case {case} opened "
            "({category}, urgent)",
        },
        "demo.mediation.assigned": {
            "zh": "指派调解员：{name}（{reason}）",
            "en": "Mediator assigned: {name} ({reason})",
        },
        "demo.mediation.agreement": {
            "zh": "三方达成协议：{terms}",
            "en": "The three agree: {terms}",
        },
        "demo.mediation.resolved": {
            "zh": "回访：义务均已履行，案件办结（调解 {sessions} 次）",
            "en": "Follow-up: every obligation kept, case resolved ({sessions} session(s))",
        },
    }
)

PARTIES = [
    {"name": "雷女士", "role": "applicant", "phone": "13800000011"},
    {"name": "陈某（包工头）", "role": "respondent", "phone": "13800000012"},
    {"name": "叶某（木工）", "role": "third_party", "phone": "13800000013"},
]


def terms() -> list[dict[str, str]]:
    return [
        {"party": "陈某（包工头）", "obligation": "向叶某结清工钱", "due_date": in_days(7)},
        {"party": "叶某（木工）", "obligation": "把已拆下的木门装回", "due_date": in_days(3)},
    ]


async def play(stage: Stage) -> None:
    await stage.setup(
        stage.command(
            "mediation.register_mediator",
            {
                "mediator_id": stage.id("med-lv"),
                "name": "吕调解员",
                "kind": "station_full_time",
                "specialties": ["construction_payment", "labour_wage", "family", "neighbour"],
                "blocks": [BLOCK],
                "phone": "13800000021",
                "max_active_cases": 20,
            },
            setup=True,
        ),
        stage.command(
            "mediation.register_mediator",
            {
                "mediator_id": stage.id("med-wang"),
                "name": "王调解员",
                "kind": "community",
                "specialties": ["neighbour", "family"],
                "blocks": [BLOCK],
                "phone": "13800000022",
                "max_active_cases": 5,
            },
            setup=True,
        ),
    )
    stage.say("demo.mediation.registered")

    await stage.send(
        stage.command(
            "mediation.report_dispute",
            {
                "dispute_id": stage.id("dispute-lei"),
                "source": "walk_in",
                "category": "construction_payment",
                "parties": PARTIES,
                "description": "装修停工一个月：包工头与木工因工钱争执，木工拆走已装好的木门",
                "block": BLOCK,
                "urgency": "high",
            },
        )
    )
    [opened] = await stage.expect("mediation.case_opened")
    case_id = opened.data["case_id"]
    stage.say(
        "demo.mediation.opened", case=case_id, category=words(opened.data["category"], stage.lang)
    )
    [assigned] = await stage.expect("mediation.mediator_assigned")
    stage.say(
        "demo.mediation.assigned",
        name=assigned.data["mediator_id"],
        reason=words(assigned.data["reason"], stage.lang),
    )

    await stage.send(
        stage.command(
            "mediation.record_session",
            {
                "case_id": case_id,
                "mediator_id": assigned.data["mediator_id"],
                "held_at": now(),
                "outcome": "agreement",
                "terms": terms(),
                "notes": "讲明法律后果，三方当场签字",
            },
        )
    )
    [agreement] = await stage.expect("mediation.agreement_reached")
    stage.say(
        "demo.mediation.agreement",
        terms="; ".join(t["obligation"] for t in agreement.data["terms"]),
    )
    await stage.send(
        *(
            stage.command(
                "mediation.check_obligation",
                {"case_id": case_id, "term_index": index, "fulfilled": True, "checked_at": now()},
            )
            for index in range(len(agreement.data["terms"]))
        )
    )
    [resolved] = await stage.expect("mediation.case_resolved")
    stage.say("demo.mediation.resolved", sessions=resolved.data["sessions"])
    await stage.settle()


STORY = Story(key="mediation", title="demo.mediation.title", steps=5, play=play)
