"""Helpers for Orderflow's tests and benchmarks, never for a service: ``harness`` runs a
service in-process against real PostgreSQL and Kafka and reads topics; ``samples`` builds
orders in Amazon's shape. A development dependency of the workspace root only."""
