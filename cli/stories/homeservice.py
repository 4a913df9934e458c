"""Story 3 of the handbook: a woman of nearly 90 who cannot walk far has lost her ID card;
her son asks at the window; an officer books a day and goes to her home, where her details,
photo and fingerprints are taken."""

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation

from cli.i18n import labels
from cli.stories.base import Story, in_days, words
from cli.stories.stage import Stage
from cli.stories.visits import volunteer

BLOCK = "block-05"

labels(
    {
        "demo.homeservice.title": {
            "zh": "上门为行动不便的老人补办身份证",
            "en": "An ID card replaced at home for an elderly woman who cannot walk far",
        },
        "demo.homeservice.registered": {
            "zh": "登记户籍民警（{block}）",
            "en": "Registry officer registered ({block})",
        },
        "demo.homeservice.scheduled": {
            "zh": "儿子在窗口申请：{service}，预约 {day} 由 {officer} 上门",
            "en": "Her son asks at the window: {service}, booked on {day} with {officer} at home",
        },
        "demo.homeservice.completed": {
            "zh": "上门办结：已采集信息、照片和指纹",
            "en": "Done at home: details, photo and fingerprints taken",
        },
    }
)


async def play(stage: Stage) -> None:
    await stage.setup(volunteer(stage, "officer-jin", "户籍民警 金警官", "police", BLOCK))
    stage.say("demo.homeservice.registered", block=BLOCK)

    request_id = stage.id("homesvc-mao")
    await stage.send(
        stage.command(
            "outreach.request_home_service",
            {
                "request_id": request_id,
                "service": "id_card_replacement",
                "person": {"name": "毛奶奶", "age": 89, "mobility_impaired": True},
                "requested_by": {"name": "毛先生", "relation": "儿子", "phone": "13800000061"},
                "address": "水阁街道 5 号楼 2 单元 301",
                "block": BLOCK,
                "preferred_dates": [in_days(1), in_days(2)],
            },
        )
    )
    [booked] = await stage.expect("outreach.home_service_scheduled")
    stage.say(
        "demo.homeservice.scheduled",
        service=words(booked.data["service"], stage.lang),
        day=booked.data["appointment_date"],
        officer=booked.data["officer_id"],
    )
    await stage.send(
        stage.command(
            "outreach.complete_home_service",
            {
                "request_id": request_id,
                "officer_id": booked.data["officer_id"],
                "notes": "已上门采集信息、照片和指纹",
            },
        )
    )
    await stage.expect("outreach.home_service_completed")
    stage.say("demo.homeservice.completed")
    await stage.settle()


STORY = Story(key="idcard", title="demo.homeservice.title", steps=3, play=play)
