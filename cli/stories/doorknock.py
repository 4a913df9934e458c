"""Story 4 of the handbook, first half: a warning about callers posing as the fire brigade
ordering catering; volunteers knock on the doors of restaurants and shops in the block; the
restaurant owner Ms. Zheng later gets such a call for a 21,000-yuan job, remembers the visit,
asks the station, and loses nothing."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from cli.i18n import labels
from cli.stories.base import Story
from cli.stories.stage import Stage
from cli.stories.visits import campaign_visits, household, report_visits, volunteer

BLOCK = "block-07"
SCHEME = "impersonate_official_order"

labels(
    {
        "demo.doorknock.title": {
            "zh": "反诈预警与敲门行动（郑女士识破 21,000 元订餐骗局）",
            "en": "Fraud warning and door-knocking (Ms. Zheng sees through a 21,000-yuan scam)",
        },
        "demo.doorknock.registered": {
            "zh": "{block}：登记商户与住户 4 户、走访人员 2 名（银行、妇联）",
            "en": "{block}: 4 households and 2 visitors (bank, women's federation) registered",
        },
        "demo.doorknock.launched": {
            "zh": "发布预警“冒充消防队订餐”：敲门行动覆盖 {blocks}，计划走访 {planned} 户",
            "en": "Warning 'fire brigade ordering catering': campaign in {blocks}, "
            "{planned} visits planned",
        },
        "demo.doorknock.assigned": {
            "zh": "走访任务已派：{who}",
            "en": "Visits assigned: {who}",
        },
        "demo.doorknock.visited": {
            "zh": "走访完成 {count} 户：宣传防诈骗、消防安全",
            "en": "{count} visits done: fraud awareness, fire safety",
        },
        "demo.doorknock.dissuaded": {
            "zh": "郑女士接到冒充消防队的订餐电话，想起走访提醒，向派出所核实：劝阻成功，"
            "保住 {amount} 元",
            "en": "Ms. Zheng gets a fake fire-brigade catering order, remembers the visit, asks "
            "the station: dissuaded, {amount} yuan protected",
        },
    }
)


async def play(stage: Stage) -> None:
    await stage.setup(
        household(
            stage,
            "hh-zheng",
            BLOCK,
            [{"name": "郑女士", "age": 46, "phone": "13800000041"}],
            business_type="restaurant",
        ),
        household(
            stage,
            "hh-ye",
            BLOCK,
            [{"name": "叶女士", "age": 29, "phone": "13800000042"}],
            business_type="jewellery",
        ),
        household(
            stage,
            "hh-hotpot",
            BLOCK,
            [{"name": "徐先生", "age": 52}],
            business_type="restaurant",
            prior_fraud_victim=True,
        ),
        household(
            stage, "hh-pan", BLOCK, [{"name": "潘大爷", "age": 81}], lives_alone_elderly=True
        ),
        volunteer(stage, "vol-bank", "农商银行 张晓", "bank", BLOCK),
        volunteer(stage, "vol-fed", "妇联 李芳", "womens_federation", BLOCK),
    )
    stage.say("demo.doorknock.registered", block=BLOCK)

    await stage.send(
        stage.command(
            "outreach.issue_fraud_warning",
            {
                "warning_id": stage.id("warning-fire-order"),
                "scheme": SCHEME,
                "title": "冒充消防队订餐诈骗",
                "description": "骗子冒充消防大队，以订餐、订货为名要求商户垫付货款",
                "target": {"business_types": ["restaurant", "jewellery"]},
                "blocks": [BLOCK],
                "severity": "high",
                "issued_by": "县公安局反诈中心",
            },
        )
    )
    launched, visits = await campaign_visits(stage)
    stage.say(
        "demo.doorknock.launched",
        blocks=", ".join(launched.data["blocks"]),
        planned=launched.data["visits_planned"],
    )
    stage.say(
        "demo.doorknock.assigned",
        who=", ".join(f"{v.data['household_id']}→{v.data['volunteer_id']}" for v in visits),
    )
    done = await report_visits(
        stage, visits, ["telecom_fraud", "fire_safety"], findings=lambda _visit: None
    )
    stage.say("demo.doorknock.visited", count=len(done))

    report_id = stage.id("report-zheng")
    await stage.send(
        stage.command(
            "outreach.report_fraud_attempt",
            {
                "report_id": report_id,
                "scheme": SCHEME,
                "block": BLOCK,
                "household_id": stage.id("hh-zheng"),
                "channel": "phone",
                "amount_at_risk_yuan": 21_000,
                "dissuaded": True,
            },
        )
    )
    [dissuaded] = await stage.expect(
        "outreach.fraud_dissuaded", where=lambda d: d["source_id"] == report_id
    )
    stage.say("demo.doorknock.dissuaded", amount=f"{dissuaded.data['amount_yuan']:,}")
    await stage.settle()


STORY = Story(key="fraud", title="demo.doorknock.title", steps=5, play=play)
