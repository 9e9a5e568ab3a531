"""``python -m devstack <command>``: fetch, infra-up, infra-down, up, down, status, clean,
lock-kafka and lock-elasticmq (a maintainer's: regenerate infra/<name>'s lock file with Maven)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from devstack import config
from devstack.elasticmq import ELASTICMQ, ensure_elasticmq_libs
from devstack.errors import DevstackError, from_os_error
from devstack.jars import Artifact, generate_lock
from devstack.java import find_java
from devstack.kafka import KAFKA, ensure_kafka_libs
from devstack.pginstall import major_version
from devstack.platform import (
    Platform,
    clean,
    down,
    infra_down,
    infra_up,
    service_running,
    up,
)
from devstack.postgres import find_bindir
from devstack.proc import pid_alive, read_pid

log = logging.getLogger(__name__)


def _summary(platform: Platform) -> str:
    lines = ["Orderflow development stack:"]
    for service in platform.present_services():
        lines.append(f"  {service.name:<12} {service.url}  (docs {service.url}/docs)")
    lines += [
        f"  Kafka        {platform.kafka.bootstrap}",
        *(
            [f"  SQS          {platform.sqs.queue_url()}  (ElasticMQ)"]
            if config.sqs_enabled()
            else []
        ),
        f"  PostgreSQL   {platform.postgres.url('<db>', driver='postgresql')}"
        f"  (databases: {', '.join(config.DATABASES)})",
        "  API keys     " + config.api_keys().replace(",", "\n               "),
    ]
    return "\n".join(lines)


def _status(platform: Platform) -> str:
    def state(ok: bool) -> str:
        return "running" if ok else "stopped"

    lines = [
        *_kafka_status(platform, state),
        f"postgres     {state(platform.postgres.is_running()):<8} "
        f"{platform.postgres.url('postgres', driver='postgresql')}",
    ]
    if config.sqs_enabled():
        lines.append(f"elasticmq    {state(platform.sqs.is_running()):<8} {platform.sqs.endpoint}")
    for service in platform.present_services():
        pid = read_pid(platform.pid_file(service))
        if service_running(platform, service):
            text = "running"
        elif pid is not None and pid_alive(pid):
            text = "unready"
        else:
            text = "stopped"
        lines.append(f"{service.name:<12} {text:<8} {service.url}")
    return "\n".join(lines)


def _kafka_status(platform: Platform, state: Callable[[bool], str]) -> list[str]:
    cluster = platform.kafka_cluster
    if config.kafka_brokers() == 1 and not any(n.pid_file.exists() for n in cluster.nodes()):
        kafka = platform.kafka_single
        return [f"kafka        {state(kafka.is_running()):<8} {kafka.bootstrap}"]
    return [
        f"kafka-{node.node.node_id:<6} {state(node.is_running()):<8} "
        f"127.0.0.1:{node.listen_port} ({node.node.roles})"
        for node in cluster.nodes()
    ]


def cmd_infra_up(platform: Platform) -> None:
    infra_up(platform)
    print(_summary(platform))


def cmd_infra_down(platform: Platform) -> None:
    infra_down(platform)


def cmd_up(platform: Platform) -> None:
    up(platform)
    print(_summary(platform))


def cmd_down(platform: Platform) -> None:
    down(platform)


def cmd_status(platform: Platform) -> None:
    print(_status(platform))


def cmd_fetch(platform: Platform) -> None:
    """Fetch what the stack needs and is missing (Kafka's and ElasticMQ's jars, once per
    machine) and check that Java and PostgreSQL's binaries are there."""
    del platform
    ensure_kafka_libs()
    if config.sqs_enabled():
        ensure_elasticmq_libs()
    log.debug("Java: %s", find_java())
    bindir = find_bindir()
    log.debug("PostgreSQL %d: %s", major_version(bindir), bindir)


def cmd_clean(platform: Platform) -> None:
    clean(platform)


def _write_lock(artifact: Artifact) -> None:
    text = generate_lock(artifact)
    Path(artifact.lock_file).write_text(text)
    count = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    print(f"wrote {artifact.lock_file}: {count} jars")


def cmd_lock_kafka(platform: Platform) -> None:
    """Regenerate infra/kafka's lock file from its pom.xml (needs Maven)."""
    del platform
    _write_lock(KAFKA)


def cmd_lock_elasticmq(platform: Platform) -> None:
    """Regenerate infra/elasticmq's lock file from its pom.xml (needs Maven)."""
    del platform
    _write_lock(ELASTICMQ)


COMMANDS: dict[str, Callable[[Platform], None]] = {
    "infra-up": cmd_infra_up,
    "infra-down": cmd_infra_down,
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "fetch": cmd_fetch,
    "clean": cmd_clean,
    "lock-kafka": cmd_lock_kafka,
    "lock-elasticmq": cmd_lock_elasticmq,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        COMMANDS[args.command](Platform.from_env())
    except DevstackError as exc:
        print(f"devstack {args.command}: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, TimeoutError) as exc:
        log.error("%s failed: %s", args.command, exc)
        return 1
    except OSError as exc:
        known = from_os_error(exc)
        if known is None:
            raise
        print(f"devstack {args.command}: {known}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
