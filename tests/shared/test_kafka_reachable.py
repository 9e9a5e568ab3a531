"""Readiness's Kafka check takes a comma-separated bootstrap list (a cluster, ADR 0047)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shared.runtime import kafka_reachable

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _reachable_with_first_down() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await kafka_reachable(f"127.0.0.1:{_closed_port()}, 127.0.0.1:{port}")


def test_one_listening_server_of_the_list_is_enough() -> None:
    asyncio.run(_reachable_with_first_down())


def test_unreachable_when_no_server_listens() -> None:
    with pytest.raises(OSError):
        asyncio.run(kafka_reachable(f"127.0.0.1:{_closed_port()},127.0.0.1:{_closed_port()}"))
