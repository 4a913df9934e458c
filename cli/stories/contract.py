"""The services' command models by CloudEvents type: the demo checks each command it
sends against its service's own model, as the service will."""

from functools import cache

from services.enterprise import messages as enterprise
from services.mediation import messages as mediation
from services.outreach import commands as outreach
from shared import Command

_MODULES = (enterprise, mediation, outreach)


@cache
def _by_type() -> dict[str, type[Command]]:
    found: dict[str, type[Command]] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Command) and value.type:
                found[value.type] = value
    return found


def command_model(command_type: str) -> type[Command]:
    """The model of a command type; KeyError names the unknown type."""
    try:
        return _by_type()[command_type]
    except KeyError:
        raise KeyError(f"no service takes a command of type {command_type!r}") from None
