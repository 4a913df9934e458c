"""`python -m services.notifier` runs the notifier service."""

from services.notifier.app import SPEC
from shared.runtime import run_service

run_service(SPEC)
