"""A database that is shutting down or starting up is a transient failure: 503 and retry, not 500.

Found by ``make faults`` (postgres-restart): while PostgreSQL stopped, a new connection got
"the database system is shutting down" (SQLSTATE 57P03). SQLAlchemy wraps asyncpg's error
twice, so the old one-level look at ``__cause__`` missed it and the API answered 500 (and a
consumer would have counted it as a handler failure towards dead-lettering).

A tiny server speaks just enough of the PostgreSQL protocol to refuse every connection the way
a stopping (or starting) server does.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from shared.api.problems import install_problem_handlers
from shared.db.session import make_engine
from shared.errors import is_transient

pytestmark = pytest.mark.integration

_SSL_REQUEST = 80877103


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack(">i", len(body) + 4) + body


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: bytes) -> None:
    try:
        while True:
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            payload = await reader.readexactly(size - 4)
            if size == 8 and struct.unpack(">i", payload)[0] == _SSL_REQUEST:
                writer.write(b"N")  # no TLS; the startup message follows
                await writer.drain()
                continue
            writer.write(reply)
            await writer.drain()
            return
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


@pytest.fixture(
    params=[
        ("57P03", "the database system is shutting down"),
        ("57P03", "the database system is starting up"),
        ("57P01", "terminating connection due to administrator command"),
    ]
)
async def refusing_server(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    sqlstate, message = request.param
    reply = _error_response(sqlstate, message)
    server = await asyncio.start_server(lambda r, w: _refuse(r, w, reply), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql+asyncpg://orderflow@127.0.0.1:{port}/orderflow"
    finally:
        server.close()
        await server.wait_closed()


async def _connect_error(url: str) -> DBAPIError:
    engine = make_engine(url, pool_size=1)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return caught.value
    finally:
        await engine.dispose()


async def test_a_stopping_or_starting_database_is_transient(refusing_server: str) -> None:
    error = await _connect_error(refusing_server)
    assert not error.connection_invalidated  # the case the old rule missed
    assert is_transient(error)


async def test_the_api_answers_503_with_retry_after_not_500(refusing_server: str) -> None:
    engine = make_engine(refusing_server, pool_size=1)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/needs-db")
    async def needs_db() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"ok": "yes"}

    # raise_app_exceptions: an exception that reached the server (which uvicorn would log a
    # second time, with a traceback) would fail the request here instead of answering it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/needs-db")
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_data_error_is_still_not_transient() -> None:
    class UniqueViolation(Exception):
        sqlstate = "23505"

    try:
        try:
            raise UniqueViolation("duplicate key")
        except UniqueViolation as driver:
            raise IntegrityError("INSERT ...", {}, driver) from driver
    except IntegrityError as exc:
        assert not is_transient(exc)


async def test_a_data_error_in_a_request_is_a_500_not_a_503() -> None:
    """IntegrityError is a DBAPIError, one of the classes the 503 handler is registered for;
    it is not transient, so it goes on to the handler of last resort."""
    app = FastAPI()
    install_problem_handlers(app)

    class UniqueViolation(Exception):
        sqlstate = "23505"

    @app.get("/conflict")
    async def conflict() -> None:
        raise IntegrityError("INSERT ...", {}, UniqueViolation("duplicate key"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/conflict")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert response.headers["content-type"].startswith("application/problem+json")
