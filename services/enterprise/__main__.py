"""`python -m services.enterprise` runs the enterprise service."""

from services.enterprise.app import SERVICE

SERVICE.run()
