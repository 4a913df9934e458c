"""`python -m services.enterprise` runs the enterprise service."""

from services.enterprise.app import SPEC
from shared.runtime import run_service

run_service(SPEC)
