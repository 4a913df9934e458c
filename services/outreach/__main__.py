"""`python -m services.outreach` runs the outreach service."""

from services.outreach.app import SPEC
from shared.runtime import run_service

run_service(SPEC)
