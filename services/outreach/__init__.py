"""The outreach service."""
