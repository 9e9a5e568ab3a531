"""Orderflow local infrastructure: Kafka (KRaft), PostgreSQL and service processes, no Docker."""

from devstack.kafka import KafkaServer, kafka_api_versions_ok
from devstack.postgres import PostgresServer, create_database

__all__ = ["KafkaServer", "PostgresServer", "create_database", "kafka_api_versions_ok"]
