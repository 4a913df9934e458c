"""Plumbing every service needs: settings, logging, Kafka and Mongo setup, the service runtime."""
