"""`python -m services.mediation` runs the mediation service."""

from services.mediation.app import SPEC
from shared.runtime import run_service

run_service(SPEC)
