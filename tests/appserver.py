"""The web app served for tests: on a free port of 127.0.0.1 in a thread of this process, an API client that
sends the server's token (read from its page, as the page's own script does), and waiting for a run.

The app extra (FastAPI, uvicorn) is imported by `serve`, so a test that serves the app skips without it."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import extra, free_port

RUN_SECONDS = 240  # a two-option quick sweep takes ~15 s on a loaded 2-core machine; generous


@contextmanager
def serve(results: Path, max_runs: int | None = None, scenarios: Path | None = None,
          configs: Path | None = None) -> Iterator[str]:
    """The app over `results` (saving scenarios into `scenarios` and uploaded regions into `configs`/region, default
    folders beside `results`: never the shipped ones) until the block ends (its children are left running, as when
    the app stops)."""
    uvicorn = extra("uvicorn", "app")
    extra("fastapi", "app")
    from sim.interfaces.app import create_app

    port = free_port()
    scenarios = scenarios or Path(results).parent / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    configs = configs or Path(results).parent / "configs"
    srv = uvicorn.Server(uvicorn.Config(create_app(results, max_runs, scenarios, configs), host="127.0.0.1",
                                        port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def token_of(base: str) -> str:
    """The token the server's page carries."""
    page = httpx.get(base + "/", timeout=60).text
    return re.search(r'<meta name="pathways-token" content="([^"]+)">', page).group(1)


def api_client(base: str) -> httpx.Client:
    """An API client that sends the server's token."""
    from sim.interfaces.app import TOKEN_HEADER

    return httpx.Client(base_url=base, timeout=60, headers={TOKEN_HEADER: token_of(base)})


def wait(client: httpx.Client, run_id: str) -> dict:
    """A run's status once it is no longer queued or running (progress only goes forward meanwhile)."""
    deadline = time.time() + RUN_SECONDS
    seen = []
    while time.time() < deadline:
        st = client.get(f"/api/runs/{run_id}").json()
        seen.append(st["progress"])
        if st["status"] not in ("queued", "running"):
            assert seen == sorted(seen), seen
            return st
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still running after {RUN_SECONDS} s")


@contextmanager
def held(pid: int) -> Iterator[None]:
    """The process group `pid` leads (a run's child and its workers) held still (SIGSTOP) until the block ends and
    SIGINT waits for it (Stop's Ctrl-C has reached it), or 30 s have passed; then it goes on (SIGCONT). What the
    run does after a test saw it reach a point no longer depends on how quickly the test (a loaded machine, a
    browser) gets to press Stop: it stops where it was seen."""
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
        deadline = time.monotonic() + 30
        while not pending(pid, signal.SIGINT) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(pid, signal.SIGCONT)


def pending(pid: int, sig: int) -> bool:
    """Whether `sig` waits to be delivered to process `pid` (a stopped process keeps what it is sent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    shared = next((line.split()[1] for line in status.splitlines() if line.startswith("ShdPnd:")), "0")
    return bool(int(shared, 16) >> (sig - 1) & 1)
