"""The settings every service shares; each service subclasses it with its own env prefix.

Connection settings are read unprefixed (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URL`) so a
container gets exactly one of each; a service's own knobs carry its prefix
(`ENTERPRISE_HTTP_PORT`). A bad value stops the service with a one-line message.
"""

from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared._kit.kafka_client import (
    KafkaClientConfigError,
    KafkaIdentity,
    client_options,
    identity_from_environment,
)

LogFormat = Literal["auto", "json", "console"]
Port = Annotated[int, Field(ge=1, le=65535)]


def settings_for(service: str) -> SettingsConfigDict:
    """The settings configuration of one service: its own knobs read as `<SERVICE>_<KNOB>`;
    its database, consumer group and topics named after it unless set."""
    return SettingsConfigDict(env_prefix=f"{service.upper()}_", extra="ignore", frozen=True)


class SettingsError(ValueError):
    """The environment does not describe a runnable service."""


class ServiceSettings(BaseSettings):
    """Base of every service's settings: Kafka, MongoDB, HTTP and logging."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_url: str = Field(validation_alias="MONGODB_URL")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )
    log_format: LogFormat = Field(default="auto", validation_alias="LOG_FORMAT")

    # default to the service's name (see `settings_for`)
    mongodb_database: str = Field(default="", pattern=r"^[A-Za-z0-9_]*$")
    consumer_group: str = ""
    # the service reads `<topic_prefix>.intake` and writes `<topic_prefix>.events`; tests
    # give a service's copy topics of its own with it
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    http_host: str = "127.0.0.1"
    http_port: Port
    startup_timeout_s: float = Field(default=20.0, gt=0, le=25)
    # how soon a crashed replica's partitions move to another (broker minimum: 6 s)
    # 6 s (the broker's minimum): a killed service is back to work soon after its restart
    kafka_session_timeout_ms: int = Field(default=6_000, ge=6_000)
    # a member learns of a rebalance from its next heartbeat: a restarted service's two
    # consumers join one after the other, and the second join's rebalance waited up to
    # this long for the first to rejoin (measured: 2 s of an 8.3 s restart)
    kafka_heartbeat_interval_ms: int = Field(default=500, ge=100)
    handler_max_attempts: int = Field(default=5, ge=1)
    timer_interval_s: float = Field(default=1.0, gt=0)
    timer_lease_s: float = Field(default=30.0, gt=0)
    # the relay is a safety net (a redelivery republishes what its record left): a pass
    # reads every document with an old outbox, which FerretDB does by a full scan
    outbox_relay_interval_s: float = Field(default=30.0, gt=0)
    outbox_relay_grace_s: float = Field(default=10.0, ge=0)
    # a message re-sent with the same source and id within this window has no second effect
    dedupe_window_days: float = Field(default=7.0, gt=0)
    # finished records (closed cases, finished visits, sent notifications) keep their
    # personal fields this long, then lose them (shared/_kit/erasure.py, `Expiry`)
    personal_data_retention_days: float = Field(default=180.0, gt=0, le=3650)
    # records handled as one unit of work, at most (one getmany), and how long to wait
    batch_max_records: int = Field(default=500, ge=1)
    batch_timeout_ms: int = Field(default=50, ge=0)
    # after a batch came, how long to wait for the records fetched again right after it
    # (see intake.WaitingBatchSubscriber); 0 turns the linger off
    batch_linger_ms: int = Field(default=3, ge=0)
    # a fetch waits at most this long on the broker for records: a partition drained by
    # the last batch is asked again only when the fetch in flight ends (aiokafka sends one
    # at a time), so this bounds how late its next record is seen at a low rate
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1)
    # a consumer busy with one record for longer than this makes /readyz answer 503
    stuck_after_s: float = Field(default=120.0, gt=0)
    # every MongoDB operation is given up after this (then retried as an outage)
    mongodb_timeout_s: float = Field(default=15.0, gt=0)
    # `/stats` serves figures from memory, recomputed by one task at most this often after
    # this process wrote something, and at least this often whatever happened (the work of
    # another replica): a request never reads the database
    stats_interval_s: float = Field(default=2.0, gt=0)
    stats_max_age_s: float = Field(default=30.0, gt=0)

    @cached_property
    def kafka_identity(self) -> KafkaIdentity:
        """Who the service is on Kafka: `KAFKA_CLIENT_PROPERTIES` or `KAFKA_SASL_*`
        (shared/_kit/kafka_client.py), read once; checked by `load`."""
        return identity_from_environment()

    def kafka_options(self) -> dict[str, Any]:
        """aiokafka's connection options: the brokers and the service's identity."""
        return client_options(self.kafka_bootstrap_servers, self.kafka_identity)

    @classmethod
    def service_name(cls) -> str:
        """The service these settings belong to, from the env prefix (`ENTERPRISE_`)."""
        return str(cls.model_config.get("env_prefix", "")).rstrip("_").lower()

    @model_validator(mode="after")
    def _named_after_the_service(self) -> Self:
        name = self.service_name()
        for field in ("mongodb_database", "consumer_group", "topic_prefix"):
            if not getattr(self, field):
                # frozen model: defaults that depend on the class are filled in once, here
                object.__setattr__(self, field, name)
        return self

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"expected host:port[,host:port…], got {value!r}")
        return value

    @field_validator("mongodb_url")
    @classmethod
    def _mongo_scheme(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("expected a mongodb:// or mongodb+srv:// URL")
        return value

    @classmethod
    def load(cls) -> Self:
        """Read the environment, or raise SettingsError naming every bad variable."""
        try:
            settings = cls()
            settings.kafka_identity  # noqa: B018 - a bad credentials file fails here, at once
        except KafkaClientConfigError as exc:
            raise SettingsError(str(exc)) from None
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix", ""))
            env_names = {
                name: info.validation_alias
                if isinstance(info.validation_alias, str)
                else f"{prefix}{name}".upper()
                for name, info in cls.model_fields.items()
            }
            env_names |= {alias: alias for alias in env_names.values()}
            problems = []
            for error in exc.errors():
                where = str(error["loc"][0]) if error["loc"] else "?"
                message = "is not set" if error["type"] == "missing" else error["msg"]
                problems.append(f"{env_names.get(where, where)} {message}")
            raise SettingsError("; ".join(problems)) from None
        return settings
