"""The whole local platform: infrastructure plus the service processes."""

from __future__ import annotations

import http.client
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack import config
from devstack.config import SERVICES, ServiceSpec
from devstack.elasticmq import ElasticMQServer
from devstack.errors import port_taken
from devstack.kafka import KafkaServer
from devstack.kafka_cluster import KafkaCluster, broker_ports
from devstack.paths import repo_root
from devstack.postgres import PostgresServer
from devstack.proc import (
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    spawn_detached,
    terminate,
    wait_until,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platform:
    """Paths and servers of the development stack rooted at ``root``."""

    root: Path

    @classmethod
    def from_env(cls) -> Platform:
        return cls(repo_root())

    @property
    def run_dir(self) -> Path:
        return self.root / ".run"

    @property
    def kafka(self) -> KafkaServer | KafkaCluster:
        """The single broker, or with KAFKA_BROKERS=3 the local cluster."""
        return self.kafka_cluster if config.kafka_brokers() > 1 else self.kafka_single

    @property
    def kafka_single(self) -> KafkaServer:
        return KafkaServer(
            self.run_dir / "kafka", config.kafka_port(), config.kafka_controller_port()
        )

    @property
    def kafka_cluster(self) -> KafkaCluster:
        """Brokers on KAFKA_PORT, +2, +4 (9092, 9094, 9096); the controller on
        KAFKA_CONTROLLER_PORT (9093)."""
        return KafkaCluster(
            self.run_dir / "kafka-cluster",
            broker_ports(config.kafka_port(), 3),
            config.kafka_controller_port(),
        )

    @property
    def replication_factor(self) -> int:
        return self.kafka_cluster.replication_factor if config.kafka_brokers() > 1 else 1

    @property
    def sqs(self) -> ElasticMQServer:
        return ElasticMQServer(self.run_dir / "elasticmq", config.sqs_port())

    @property
    def postgres(self) -> PostgresServer:
        return PostgresServer(self.run_dir / "postgres", config.postgres_port())

    def pid_file(self, service: ServiceSpec) -> Path:
        return self.run_dir / f"{service.name}.pid"

    def log_file(self, service: ServiceSpec) -> Path:
        return self.run_dir / "logs" / f"{service.name}.log"

    def present_services(self) -> list[ServiceSpec]:
        return [s for s in SERVICES if (self.root / "services" / s.name).is_dir()]


def infra_up(platform: Platform) -> None:
    kafka, postgres, sqs = platform.kafka, platform.postgres, platform.sqs
    # ElasticMQ is spawned first and waited for last: it starts while Kafka and PostgreSQL
    # do, so it adds next to nothing to `make up`'s time.
    sqs_launched = config.sqs_enabled() and sqs.begin()
    kafka.start()
    postgres.start()
    for database in config.DATABASES:
        postgres.create_database(database)
    if sqs_launched:
        sqs.wait_ready()


def infra_down(platform: Platform) -> None:
    """Stops whichever Kafka runs, one broker or the cluster, whatever KAFKA_BROKERS says."""
    platform.sqs.stop()
    platform.kafka_cluster.stop()
    platform.kafka_single.stop()
    platform.postgres.stop()


def service_env(platform: Platform, service: ServiceSpec) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": platform.postgres.url(service.database),
        "KAFKA_BOOTSTRAP_SERVERS": platform.kafka.bootstrap,
        "KAFKA_REPLICATION_FACTOR": str(platform.replication_factor),
        "HTTP_PORT": str(service.port),
        "ORDERFLOW_API_KEYS": config.api_keys(),
        "ORDERFLOW_PII_KEY": config.pii_key(),
        "ORDERFLOW_SERVICE_URLS": config.service_urls(),
        **(_sqs_env(platform) if config.sqs_enabled() else {}),
    }


def _sqs_env(platform: Platform) -> dict[str, str]:
    """Where ingest's notifications consumer reads Amazon's notifications locally."""
    return {
        "SQS_ENDPOINT_URL": platform.sqs.endpoint,
        "SQS_QUEUE_URL": platform.sqs.queue_url(),
        "SQS_REGION": config.SQS_REGION,
        # ElasticMQ accepts any signed request; the SDK only needs some credentials to sign.
        "SQS_ACCESS_KEY_ID": "local",
        "SQS_SECRET_ACCESS_KEY": "local",
    }


def http_ready(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        # HTTPException: not an HTTP server yet, e.g. a connect to a port nobody listens on
        # yet in the ephemeral range can meet itself (TCP self-connect) and read its request.
        return False


def service_running(platform: Platform, service: ServiceSpec) -> bool:
    pid = read_pid(platform.pid_file(service))
    return pid is not None and pid_alive(pid) and http_ready(f"{service.url}/readyz")


def start_service(platform: Platform, service: ServiceSpec) -> None:
    if service_running(platform, service):
        log.info("%s already running on %s", service.name, service.url)
        return
    stop_service(platform, service)
    if port_open(service.port):
        raise port_taken(service.port, service.name, f"{service.name.upper()}_PORT")
    env = service_env(platform, service)
    _migrate(platform, service, env)
    cmd = [sys.executable, "-m", service.name, "all"]
    spawn_detached(
        cmd,
        pid_file=platform.pid_file(service),
        log_file=platform.log_file(service),
        cwd=platform.root,
        env=env,
    )
    _wait_service_ready(platform, service)


def _migrate(platform: Platform, service: ServiceSpec, env: dict[str, str]) -> None:
    log.info("migrating %s", service.name)
    result = subprocess.run(
        [sys.executable, "-m", service.name, "migrate"],
        cwd=platform.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{service.name} migrate failed:\n{result.stdout}\n{result.stderr}")


def _wait_service_ready(platform: Platform, service: ServiceSpec) -> None:
    pid = read_pid(platform.pid_file(service))

    def ready() -> bool:
        if pid is None or not pid_alive(pid):
            raise RuntimeError(
                f"{service.name} exited during startup:\n{log_tail(platform.log_file(service))}"
            )
        return http_ready(f"{service.url}/readyz")

    if not wait_until(ready, config.READY_TIMEOUT_S, 0.5):
        raise TimeoutError(
            f"{service.name} not ready on {service.url}/readyz within "
            f"{config.READY_TIMEOUT_S:.0f}s:\n{log_tail(platform.log_file(service))}"
        )
    log.info("%s ready on %s", service.name, service.url)


def stop_service(platform: Platform, service: ServiceSpec) -> None:
    pid_file = platform.pid_file(service)
    pid = read_pid(pid_file)
    if pid is not None:
        log.info("stopping %s (pid %d)", service.name, pid)
        terminate(pid, grace=15.0)
    pid_file.unlink(missing_ok=True)


def up(platform: Platform) -> None:
    infra_up(platform)
    for service in platform.present_services():
        start_service(platform, service)


def down(platform: Platform) -> None:
    for service in reversed(SERVICES):
        stop_service(platform, service)
    infra_down(platform)


def clean(platform: Platform) -> list[Path]:
    """Stop and delete every PostgreSQL cluster that ``.run`` links to outside the checkout
    (root's clusters under /var/lib/orderflow); ``make clean`` then removes ``.run``."""
    removed: list[Path] = []
    if not platform.run_dir.is_dir():
        return removed
    for link in sorted(platform.run_dir.rglob("home")):
        if link.is_symlink():
            server = PostgresServer(link.parent, 0)
            home = server.home
            server.remove()
            removed.append(home)
            log.info("removed %s", home)
    return removed
