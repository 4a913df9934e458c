"""Every contract topic is created with a retention by kind, configurable in days."""

import pytest

from infra.topics import DAY_MS, contract_topic_configs, retention_days, topic_configs


def test_defaults_keep_facts_a_month_commands_a_week_dead_letters_two() -> None:
    configs = contract_topic_configs({})

    assert configs["enterprise.events"] == {"retention.ms": str(30 * DAY_MS)}
    assert configs["outreach.private"] == {"retention.ms": str(30 * DAY_MS)}
    assert configs["mediation.intake"] == {"retention.ms": str(7 * DAY_MS)}
    assert configs["mediation.intake.dlq"] == {"retention.ms": str(14 * DAY_MS)}
    assert configs["outreach.private.dlq"] == {"retention.ms": str(14 * DAY_MS)}
    assert all(configs.values())


def test_each_kind_has_its_own_variable() -> None:
    env = {
        "STATION_EVENTS_RETENTION_DAYS": "90",
        "STATION_INTAKE_RETENTION_DAYS": "0.5",
        "STATION_DLQ_RETENTION_DAYS": "3",
        "STATION_PRIVATE_RETENTION_DAYS": "10",
    }
    assert topic_configs("notifier.events", env) == {"retention.ms": str(90 * DAY_MS)}
    assert topic_configs("enterprise.intake", env) == {"retention.ms": str(DAY_MS // 2)}
    assert topic_configs("notifier.events.dlq", env) == {"retention.ms": str(3 * DAY_MS)}
    assert topic_configs("mediation.private", env) == {"retention.ms": str(10 * DAY_MS)}
    assert topic_configs("_infra.healthcheck", env) == {}


@pytest.mark.parametrize("value", ["0", "-1", "soon", "4000"])
def test_a_bad_retention_names_its_variable(value: str) -> None:
    with pytest.raises(ValueError, match="STATION_DLQ_RETENTION_DAYS"):
        retention_days(".dlq", {"STATION_DLQ_RETENTION_DAYS": value})
