"""No port races: nothing picks a free port and binds it later.

A port chosen free (bind to 0, read it, close) and bound a moment later can
be taken in between; a CI run of the dev smoke test failed that way. These
tests hold the very port a naive picker would hand out, or take the first
one tried, and check that each way of getting "any free port" still works:
in-process servers hold their socket from the start, children told port 0
have their port read back, and the dev server (which takes only numbers)
is started again on fresh ports. A port given by number that is taken is a
clear error.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from infra import dev_server, processes
from infra.dev_server import start_dev_server
from infra.http_server import InProcessServer, PortInUse, listen
from infra.settings import load_settings
from infra.worker_process import WorkerProcess
from starter.dev import DevOptions, run_dev


def _app() -> FastAPI:
    app = FastAPI()
    app.get("/ping")(lambda: {"ok": True})
    return app


def _held() -> socket.socket:
    """A port another process would hold: bound and listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def test_an_in_process_server_holds_its_port_from_the_moment_it_is_given_one():
    server = InProcessServer(_app())  # any free port
    with socket.socket() as squatter, pytest.raises(OSError) as taken:
        squatter.bind(
            ("127.0.0.1", server.port)
        )  # another process, between the choice and the serving
    assert taken.value.errno == errno.EADDRINUSE
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.url}/ping")).json() == {"ok": True}
    finally:
        await server.stop()
    with socket.socket() as after:  # stop() frees it
        after.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        after.bind(("127.0.0.1", server.port))


def test_a_port_given_by_number_that_is_taken_is_a_clear_error():
    with _held() as held:
        port = held.getsockname()[1]
        with pytest.raises(PortInUse, match=f"--bridge-port: 127.0.0.1:{port} is already in use"):
            listen("127.0.0.1", port, "--bridge-port")
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is already in use"):
            InProcessServer(_app(), port=port)


async def test_a_child_told_port_0_has_the_port_it_bound_read_back():
    # holds its port until the test terminates it (and dies with the test run: spawn)
    code = (
        "import signal, socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "signal.pause()"
    )
    proc = await processes.spawn(sys.executable, "-c", code)
    try:
        port = await processes.wait_listening(proc, "child", timeout=30)
        assert port and processes.listening_ports(proc.pid) == {port}
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
    finally:
        await processes.terminate(proc, "child")
    failing = await processes.spawn(sys.executable, "-c", "raise SystemExit(2)")
    with pytest.raises(RuntimeError, match="child exited with code 2 before it listened on a port"):
        await processes.wait_listening(failing, "child", timeout=30)


async def test_a_worker_whose_metrics_port_is_taken_fails_its_start_instead_of_restarting_forever():
    with _held() as held:
        port = held.getsockname()[1]
        worker = WorkerProcess(
            load_settings(_env_file=None, worker_metrics_address=f"127.0.0.1:{port}")
        )
        with pytest.raises(
            RuntimeError, match=f"worker exited with code 2 before it listened on port {port} "
        ):
            await asyncio.wait_for(worker.start(), 60)


async def test_dev_stops_on_a_taken_bridge_port_before_starting_anything(tmp_path: Path):
    with _held() as held:
        port = held.getsockname()[1]
        opts = DevOptions(state_dir=tmp_path, bridge_port=port, temporal_port=0, ui_port=0)
        with pytest.raises(PortInUse, match=f"--bridge-port: 127.0.0.1:{port} is already in use"):
            await asyncio.wait_for(run_dev(load_settings(_env_file=None), opts), 30)
    assert not (tmp_path / "temporal.log").exists()  # the dev server was never started


@pytest.mark.e2e
async def test_the_dev_server_starts_again_on_fresh_ports_when_the_first_one_is_taken(
    tmp_path: Path, monkeypatch
):
    with _held() as held:
        port = held.getsockname()[1]
        numbers = iter([port])  # the first number handed out is taken before the server can bind it
        real = dev_server._port_number
        monkeypatch.setattr(dev_server, "_port_number", lambda ip: next(numbers, None) or real(ip))
        log_path = tmp_path / "temporal.log"
        server = await start_dev_server(ip="127.0.0.1", log_path=log_path, log_level="error")
        try:
            bound = processes.listening_ports(server.proc.pid)
            assert server.port != port and bound is not None and server.port in bound
            assert (
                f"can't set frontend port {port}" in log_path.read_text()
            )  # the first attempt, retried
        finally:
            await processes.terminate(server.proc, "temporal")

        log_path.unlink()
        with pytest.raises(
            PortInUse, match=f"can't set frontend port {port}.*address already in use"
        ):
            await start_dev_server(
                ip="127.0.0.1", port=port, log_path=log_path
            )  # given by number: not retried
        assert log_path.read_text().count("can't set frontend port") == 1
