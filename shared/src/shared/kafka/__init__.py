"""Kafka clients: the producer slot and admin helpers (the relay and the runner are in
``shared.messaging``).

``fakes`` has in-memory stand-ins for unit tests only.
"""
