"""`python -m services.outreach` runs the outreach service."""

from services.outreach.app import SERVICE

SERVICE.run()
