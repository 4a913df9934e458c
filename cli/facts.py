"""What an operator reads about one event: its name, and its key fact, in zh or en.

`type_name("enterprise.over_capacity_detected", "zh")` is `超量预警`; `key_fact(type, data,
lang)` the one short phrase that matters (`超出 10,000 kg 丁酮`, `指派给调解员 雷某`). Codes
(schemes, reasons, services) are worded with the notifier's own catalogue where it has
them, so the CLI and the messages people receive say the same thing.
"""

# Chinese text is written with full-width punctuation, on purpose

from collections.abc import Callable, Mapping
from typing import Any

from cli.i18n import Lang
from services.notifier.templates import TITLES as NOTIFIER_TITLES
from services.notifier.templates import WORDS as NOTIFIER_WORDS

TYPE_NAMES: dict[str, tuple[str, str]] = {
    "enterprise.register_enterprise": ("登记企业", "register enterprise"),
    "enterprise.declare_inventory": ("申报库存", "declare inventory"),
    "enterprise.declare_demand": ("申报需求", "declare demand"),
    "enterprise.respond_to_transfer": ("答复调剂", "respond to transfer"),
    "enterprise.confirm_delivery": ("确认交付", "confirm delivery"),
    "enterprise.enterprise_registered": ("企业已登记", "enterprise registered"),
    "enterprise.demand_declared": ("需求已登记", "demand declared"),
    "enterprise.inventory_changed": ("库存变动", "inventory changed"),
    "enterprise.over_capacity_detected": ("超量预警", "over capacity detected"),
    "enterprise.alert_grown": ("超量增加", "alert grown"),
    "enterprise.redistribution_proposed": ("调剂方案", "redistribution proposed"),
    "enterprise.transfer_accepted": ("调剂已接受", "transfer accepted"),
    "enterprise.transfer_declined": ("调剂被拒", "transfer declined"),
    "enterprise.transfer_withdrawn": ("调剂撤回", "transfer withdrawn"),
    "enterprise.transfer_completed": ("调剂完成", "transfer completed"),
    "enterprise.redistribution_escalated": ("调剂升级", "redistribution escalated"),
    "enterprise.alert_resolved": ("预警解除", "alert resolved"),
    "outreach.register_household": ("登记住户", "register household"),
    "outreach.register_volunteer": ("登记志愿者", "register volunteer"),
    "outreach.issue_fraud_warning": ("发布反诈预警", "issue fraud warning"),
    "outreach.report_fraud_attempt": ("报告诈骗企图", "report fraud attempt"),
    "outreach.report_visit": ("报告走访", "report visit"),
    "outreach.request_home_service": ("申请上门服务", "request home service"),
    "outreach.complete_home_service": ("完成上门服务", "complete home service"),
    "outreach.household_registered": ("住户已登记", "household registered"),
    "outreach.volunteer_registered": ("志愿者已登记", "volunteer registered"),
    "outreach.campaign_launched": ("走访活动启动", "campaign launched"),
    "outreach.visit_assigned": ("走访已派", "visit assigned"),
    "outreach.coverage_gap_detected": ("走访缺口", "coverage gap"),
    "outreach.visit_completed": ("走访完成", "visit completed"),
    "outreach.visit_overdue": ("走访超期", "visit overdue"),
    "outreach.fraud_dissuaded": ("成功劝阻", "fraud dissuaded"),
    "outreach.fraud_attempt_reported": ("诈骗企图", "fraud attempt reported"),
    "outreach.dispute_detected": ("发现纠纷", "dispute detected"),
    "outreach.home_service_scheduled": ("上门服务已预约", "home service scheduled"),
    "outreach.home_service_completed": ("上门服务完成", "home service completed"),
    "mediation.register_mediator": ("登记调解员", "register mediator"),
    "mediation.report_dispute": ("报告纠纷", "report dispute"),
    "mediation.record_session": ("记录调解", "record session"),
    "mediation.check_obligation": ("核查履行", "check obligation"),
    "mediation.mediator_registered": ("调解员已登记", "mediator registered"),
    "mediation.case_opened": ("立案", "case opened"),
    "mediation.mediator_assigned": ("指派调解员", "mediator assigned"),
    "mediation.session_recorded": ("调解已记录", "session recorded"),
    "mediation.session_overdue": ("调解超期", "session overdue"),
    "mediation.agreement_reached": ("达成协议", "agreement reached"),
    "mediation.obligation_checked": ("履行已核查", "obligation checked"),
    "mediation.obligation_overdue": ("履行逾期", "obligation overdue"),
    "mediation.case_resolved": ("结案", "case resolved"),
    "mediation.case_escalated": ("案件升级", "case escalated"),
    "notifier.notification_sent": ("通知已发送", "notification sent"),
    "notifier.notification_failed": ("通知失败", "notification failed"),
    "notifier.notification_skipped": ("通知未发", "notification skipped"),
    "notifier.notification_delayed": ("通知延后", "notification delayed"),
    "notifier.notification_held": ("通知超限暂缓", "notification held"),
}
SUFFIX_NAMES: dict[str, tuple[str, str]] = {
    "command_rejected": ("指令被拒", "command rejected"),
    "timer_failed": ("定时任务失败", "timer failed"),
}

WORDS: dict[str, tuple[str, str]] = {
    **NOTIFIER_WORDS,
    **{str(k): v for k, v in NOTIFIER_TITLES.items()},
    # dispute categories
    "construction_payment": ("工程款", "construction payment"),
    "labour_wage": ("劳务工资", "labour wage"),
    "family": ("家庭", "family"),
    "neighbour": ("邻里", "neighbour"),
    "commercial": ("商事", "commercial"),
    "traffic": ("交通", "traffic"),
    "property": ("财产", "property"),
    "other": ("其他", "other"),
    # outcomes and movements
    "agreement": ("达成协议", "agreement"),
    "no_agreement": ("未达成协议", "no agreement"),
    "adjourned": ("休会", "adjourned"),
    "completed": ("已完成", "completed"),
    "not_home": ("不在家", "not home"),
    "refused": ("拒绝", "refused"),
    "purchase": ("购入", "purchase"),
    "consumption": ("消耗", "consumption"),
    "sale": ("售出", "sale"),
    "stocktake": ("盘点", "stocktake"),
    "registration": ("登记", "registration"),
    "transfer_out": ("调出", "transfer out"),
    "transfer_in": ("调入", "transfer in"),
    "alert_resolved": ("预警解除", "alert resolved"),
    "sms": ("短信", "SMS"),
    "email": ("邮件", "e-mail"),
    "log": ("日志", "log"),
    "on_site": ("现场化解", "on site"),
    "session": ("调解", "session"),
}


def word(code: object, lang: Lang) -> str:
    """A code in words, or the code itself when it has none."""
    found = WORDS.get(str(code))
    return str(code) if found is None else found[0 if lang == "zh" else 1]


def type_name(event_type: str, lang: Lang) -> str:
    """`enterprise.over_capacity_detected` → `超量预警` / `over capacity detected`."""
    found = TYPE_NAMES.get(event_type) or SUFFIX_NAMES.get(event_type.partition(".")[2])
    if found is None:
        return event_type.partition(".")[2] or event_type
    return found[0 if lang == "zh" else 1]


def kg(value: object) -> str:
    """`10000` → `10,000 kg`; `2.5` → `2.5 kg`."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{value} kg"
    return f"{number:,.0f} kg" if number == int(number) else f"{number:,.3g} kg"


def yuan(value: object, lang: Lang) -> str:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,} 元" if lang == "zh" else f"{number:,} yuan"


Fact = Callable[[Mapping[str, Any], Lang], str]


def zh_en(zh: str, en: str) -> Fact:
    """A fact from two format strings; fields are the event's data plus helpers."""

    def fact(d: Mapping[str, Any], lang: Lang) -> str:
        return (zh if lang == "zh" else en).format_map(_Fields(d, lang)).rstrip()

    return fact


class _Fields(dict[str, str]):
    """Format fields: `{x}` the value, `{x_kg}` in kg, `{x_w}` in words, `{x_yuan}` money."""

    def __init__(self, data: Mapping[str, Any], lang: Lang) -> None:
        super().__init__()
        self.data, self.lang = data, lang

    def __missing__(self, key: str) -> str:
        name, _, how = key.rpartition("__")
        if not name:
            name, how = key, ""
        value = self.data.get(name)
        if value is None:  # an optional field left out (a reason when accepted): nothing
            return "" if not how else "?"
        lang = self.lang
        helpers: dict[str, Callable[[Any], str]] = {
            "kg": kg,
            "w": lambda v: word(v, lang),
            "yuan": lambda v: yuan(v, lang),
            "n": lambda v: str(len(v)) if isinstance(v, list | dict) else "0",
        }
        if how in helpers:
            return helpers[how](value)
        if isinstance(value, list):
            return "、".join(word(v, lang) for v in value) if value else "-"
        if isinstance(value, bool):
            return ("是" if value else "否") if lang == "zh" else str(value).lower()
        return str(value)
