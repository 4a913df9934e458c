"""The key fact of each event type, in zh and en (see cli/facts.py for the helpers).

In a format string `{x}` is the data's field x, `{x__kg}` it in kilograms, `{x__w}` a
code in words, `{x__yuan}` money, `{x__n}` the length of a list.
"""

# ruff: noqa: RUF001

from collections.abc import Mapping
from typing import Any

from cli.facts import Fact, kg, word, zh_en
from cli.i18n import Lang


def _notification(verb_zh: str, verb_en: str, tail: str = "") -> Fact:
    def fact(d: Mapping[str, Any], lang: Lang) -> str:
        rcpt = d.get("recipient") or {}
        who = f"{word(rcpt.get('kind', '?'), lang)}:{rcpt.get('id') or '?'}"
        if lang == "zh":
            who = f"{_KINDS.get(str(rcpt.get('kind')), rcpt.get('kind'))} {rcpt.get('id') or '?'}"
        text = f"{word(d.get('template'), lang)} → {who}"
        channel = d.get("channel")
        if channel:
            text += f" ({word(channel, lang)})"
        extra = d.get(tail) if tail else None
        if extra:
            text += f" {verb_zh if lang == 'zh' else verb_en} {str(extra)[:60]}"
        return text

    return fact


_KINDS = {
    "officer": "民警",
    "desk": "值班台",
    "enterprise": "企业",
    "mediator": "调解员",
    "volunteer": "志愿者",
    "requester": "申请人",
}


def _proposed(d: Mapping[str, Any], lang: Lang) -> str:
    transfers = d.get("transfers") or []
    parts = [
        f"{kg(t.get('quantity_kg'))} → {t.get('to_name') or t.get('to_enterprise_id')}"
        for t in transfers
    ]
    left = d.get("unallocated_kg") or 0
    if lang == "zh":
        text = "；".join(parts) or "无接收方"
        return text + (f"；未分配 {kg(left)}" if left else "")
    text = "; ".join(parts) or "no recipient"
    return text + (f"; unallocated {kg(left)}" if left else "")


def _rejected(d: Mapping[str, Any], lang: Lang) -> str:
    errors = d.get("errors") or []
    first = f": {errors[0]}" if errors else ""
    what = str(d.get("command_type", "?")).partition(".")[2]
    return f"{what} {d.get('reason', '?')}{first}"[:120]


FACTS: dict[str, Fact] = {
    "enterprise.register_enterprise": zh_en("{name}", "{name}"),
    "enterprise.enterprise_registered": zh_en("{name}", "{name}"),
    "enterprise.declare_inventory": zh_en(
        "{movement__w} {quantity_kg__kg} {cas}", "{movement__w} {quantity_kg__kg} {cas}"
    ),
    "enterprise.declare_demand": zh_en(
        "需要 {quantity_kg__kg} {cas}", "needs {quantity_kg__kg} {cas}"
    ),
    "enterprise.demand_declared": zh_en(
        "需要 {quantity_kg__kg} {cas}", "needs {quantity_kg__kg} {cas}"
    ),
    "enterprise.inventory_changed": zh_en(
        "{cas} 库存 {stock_kg__kg} / 许可 {capacity_kg__kg}",
        "{cas} stock {stock_kg__kg} / permitted {capacity_kg__kg}",
    ),
    "enterprise.over_capacity_detected": zh_en(
        "超出 {surplus_kg__kg} {chemical_name}（库存 {stock_kg__kg}）",
        "surplus {surplus_kg__kg} {chemical_name_en} (stock {stock_kg__kg})",
    ),
    "enterprise.alert_grown": zh_en(
        "超出 {previous_surplus_kg__kg} → {surplus_kg__kg}",
        "surplus {previous_surplus_kg__kg} → {surplus_kg__kg}",
    ),
    "enterprise.redistribution_proposed": _proposed,
    "enterprise.respond_to_transfer": zh_en(
        "{enterprise_id} 接受：{accepted} {reason}", "{enterprise_id} accepted: {accepted} {reason}"
    ),
    "enterprise.transfer_accepted": zh_en(
        "{to_enterprise_id} 接受", "accepted by {to_enterprise_id}"
    ),
    "enterprise.transfer_declined": zh_en(
        "{to_enterprise_id} 拒绝 {quantity_kg__kg}（{reason__w}）",
        "{to_enterprise_id} declined {quantity_kg__kg} ({reason__w})",
    ),
    "enterprise.transfer_withdrawn": zh_en(
        "撤回 {quantity_kg__kg} → {to_enterprise_id}",
        "withdrawn {quantity_kg__kg} → {to_enterprise_id}",
    ),
    "enterprise.confirm_delivery": zh_en("交付 {delivered_kg__kg}", "delivered {delivered_kg__kg}"),
    "enterprise.transfer_completed": zh_en(
        "{quantity_kg__kg} {from_enterprise_id} → {to_enterprise_id}",
        "{quantity_kg__kg} {from_enterprise_id} → {to_enterprise_id}",
    ),
    "enterprise.redistribution_escalated": zh_en(
        "{unallocated_kg__kg} 无法调剂（{reason__w}）→ 危化品大队",
        "{unallocated_kg__kg} unplaced ({reason__w}) → brigade",
    ),
    "enterprise.alert_resolved": zh_en(
        "库存 {stock_kg__kg} / 许可 {capacity_kg__kg}",
        "stock {stock_kg__kg} / permitted {capacity_kg__kg}",
    ),
    "outreach.register_household": zh_en("{block} {address}", "{block} {address}"),
    # facts show ids: names, phones and addresses are on the private topics, which
    # operators do not read
    "outreach.household_registered": zh_en("{block} {household_id}", "{block} {household_id}"),
    "outreach.register_volunteer": zh_en("{name} {blocks}", "{name} {blocks}"),
    "outreach.volunteer_registered": zh_en("{volunteer_id} {blocks}", "{volunteer_id} {blocks}"),
    "outreach.issue_fraud_warning": zh_en("{scheme__w}：{title}", "{scheme__w}: {title}"),
    "outreach.campaign_launched": zh_en(
        "{scheme__w} {blocks}：{households_targeted} 户，计划走访 {visits_planned}",
        "{scheme__w} {blocks}: {households_targeted} households, {visits_planned} visits",
    ),
    "outreach.visit_assigned": zh_en(
        "派给 {volunteer_id} → {household_id}（{block}）",
        "assigned to {volunteer_id} → {household_id} ({block})",
    ),
    "outreach.coverage_gap_detected": zh_en(
        "{block} {households_unassigned} 户无人走访", "{block}: {households_unassigned} unassigned"
    ),
    "outreach.report_visit": zh_en("{volunteer_id} {outcome__w}", "{volunteer_id} {outcome__w}"),
    "outreach.visit_completed": zh_en("{household_id} {outcome__w}", "{household_id} {outcome__w}"),
    "outreach.visit_overdue": zh_en("{household_id} 逾期", "{household_id} overdue"),
    "outreach.report_fraud_attempt": zh_en(
        "{scheme__w} {block} {amount_at_risk_yuan__yuan} 劝阻：{dissuaded}",
        "{scheme__w} {block} {amount_at_risk_yuan__yuan} dissuaded: {dissuaded}",
    ),
    "outreach.fraud_attempt_reported": zh_en(
        "{scheme__w} {block} {amount_at_risk_yuan__yuan}",
        "{scheme__w} {block} {amount_at_risk_yuan__yuan}",
    ),
    "outreach.fraud_dissuaded": zh_en(
        "劝阻 {scheme__w}，挽回 {amount_yuan__yuan}（{block}）",
        "dissuaded {scheme__w}, {amount_yuan__yuan} protected ({block})",
    ),
    "outreach.dispute_detected": zh_en(
        "{category__w}纠纷 {household_id}", "{category__w} dispute at {household_id}"
    ),
    "outreach.request_home_service": zh_en("{service__w} {block}", "{service__w} {block}"),
    "outreach.home_service_scheduled": zh_en(
        "{service__w} {appointment_date} 民警 {officer_id}",
        "{service__w} on {appointment_date}, officer {officer_id}",
    ),
    "outreach.complete_home_service": zh_en("民警 {officer_id}", "officer {officer_id}"),
    "outreach.home_service_completed": zh_en("民警 {officer_id}", "officer {officer_id}"),
    "mediation.register_mediator": zh_en("{name} {specialties}", "{name} {specialties}"),
    "mediation.mediator_registered": zh_en(
        "{mediator_id} {specialties}", "{mediator_id} {specialties}"
    ),
    "mediation.report_dispute": zh_en("{category__w} {source}", "{category__w} via {source}"),
    "mediation.case_opened": zh_en(
        "{category__w}纠纷 {parties__n} 方", "{category__w} dispute, {parties__n} parties"
    ),
    "mediation.mediator_assigned": zh_en(
        "指派给调解员 {mediator_id}", "assigned to Mediator {mediator_id}"
    ),
    "mediation.record_session": zh_en("{outcome__w}", "{outcome__w}"),
    "mediation.session_recorded": zh_en(
        "第 {sessions} 次：{outcome__w}", "#{sessions}: {outcome__w}"
    ),
    "mediation.session_overdue": zh_en("超期未调解", "no session in time"),
    "mediation.agreement_reached": zh_en(
        "{terms__n} 项条款，回访 {follow_up_due}", "{terms__n} terms, follow-up {follow_up_due}"
    ),
    "mediation.check_obligation": zh_en(
        "第 {term_index} 项：{fulfilled}", "term {term_index}: {fulfilled}"
    ),
    "mediation.obligation_checked": zh_en(
        "第 {term_index} 项 {obligation}：{fulfilled}",
        "term {term_index} {obligation}: {fulfilled}",
    ),
    "mediation.obligation_overdue": zh_en(
        "第 {term_index} 项 {obligation} 逾期", "term {term_index} {obligation} overdue"
    ),
    "mediation.case_resolved": zh_en(
        "{category__w} {how__w}，{days_open} 天", "{category__w} {how__w} in {days_open} days"
    ),
    "mediation.case_escalated": zh_en(
        "{reason__w} → {referred_to__w}", "{reason__w} → {referred_to__w}"
    ),
    "notifier.notification_sent": _notification("", ""),
    "notifier.notification_failed": _notification("失败", "failed", "error"),
    "notifier.notification_skipped": _notification("未发", "skipped", "reason"),
    "notifier.notification_delayed": _notification("延至", "until", "until"),
    "notifier.notification_held": _notification("汇总于", "summary at", "summary_at"),
}


def key_fact(event_type: str, data: Mapping[str, Any], lang: Lang) -> str:
    """The key fact of one event; "" when its type is not known here, or its data is not
    shaped as its type says (anyone who can write a topic can write such an event)."""
    try:
        if event_type.endswith(".command_rejected"):
            return _rejected(data, lang)
        fact = FACTS.get(event_type)
        if fact is None or not data:
            return ""
        return fact(data, lang)
    except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError):
        return ""
