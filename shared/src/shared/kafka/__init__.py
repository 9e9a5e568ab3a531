"""Kafka plumbing: producer and admin helpers, the outbox relay and the consumer runner.

``fakes`` has in-memory stand-ins for unit tests only.
"""
