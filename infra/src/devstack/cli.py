"""``python -m devstack <command>``: fetch, infra-up, infra-down, up, down, status."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from devstack import config
from devstack.kafka import ensure_kafka_libs
from devstack.platform import (
    Platform,
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
        f"  PostgreSQL   {platform.postgres.url('<db>', driver='postgresql')}"
        f"  (databases: {', '.join(config.DATABASES)})",
        "  API keys     " + config.api_keys().replace(",", "\n               "),
    ]
    return "\n".join(lines)


def _status(platform: Platform) -> str:
    def state(ok: bool) -> str:
        return "running" if ok else "stopped"

    lines = [
        f"kafka        {state(platform.kafka.is_running()):<8} {platform.kafka.bootstrap}",
        f"postgres     {state(platform.postgres.is_running()):<8} "
        f"{platform.postgres.url('postgres', driver='postgresql')}",
    ]
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
    """Install what the stack needs and is missing: Kafka's jars, PostgreSQL's server."""
    ensure_kafka_libs()
    find_bindir(install=True)


COMMANDS: dict[str, Callable[[Platform], None]] = {
    "infra-up": cmd_infra_up,
    "infra-down": cmd_infra_down,
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "fetch": cmd_fetch,
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
    except (RuntimeError, TimeoutError) as exc:
        log.error("%s failed: %s", args.command, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
