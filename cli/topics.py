"""The topics the CLI reads and writes, honouring the services' own topic prefixes.

A service configured with `<SERVICE>_TOPIC_PREFIX=x` reads `x.intake` and writes
`x.events`; the CLI run with the same environment finds them there too.
"""

import os

from cli.events import SERVICES

COMMAND_SERVICES = ("mediation", "enterprise", "outreach", "notifier")


def prefix(service: str) -> str:
    return os.environ.get(f"{service.upper()}_TOPIC_PREFIX") or service


def events_topics() -> tuple[str, ...]:
    return tuple(f"{prefix(s)}.events" for s in SERVICES)


def intake_topics() -> tuple[str, ...]:
    return tuple(f"{prefix(s)}.intake" for s in COMMAND_SERVICES)


def intake_topic(command_type: str) -> str:
    """`enterprise.declare_inventory` goes to `enterprise.intake` (or its prefix's)."""
    return f"{prefix(command_type.split('.', 1)[0])}.intake"
