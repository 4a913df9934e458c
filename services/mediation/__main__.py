"""`python -m services.mediation` runs the mediation service."""

from services.mediation.app import SERVICE

SERVICE.run()
