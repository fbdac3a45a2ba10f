"""Issue #8: a restart keeps every acknowledged answer, on SQLite and PostgreSQL.

The real server (`stegvis runtime`) runs as a process; patients submit forms from
several threads; the server is killed with SIGKILL in the middle (no shutdown, no
flush); after a restart (a new app on the same database), every submission that was
answered 201 is there, with the answers that were sent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx  # the maintained client the test extra installs (Starlette uses it too)
from conftest import PASSWORD, make_settings, seed
from sqlalchemy import select

from runtime.app import create_app
from runtime.models import FormSubmission

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(packages: Path, database_url: str, port: int, log: Path) -> subprocess.Popen:
    """The runtime as a separate process, waited for until it answers."""
    proc = subprocess.Popen([sys.executable, "-c", "from builder.cli import main; raise SystemExit(main())",
                             "runtime", "--packages", str(packages), "--database", database_url,
                             "--port", str(port), "--local-accounts"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("a"),
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/halsa", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the runtime did not start: {log.read_text()[-2000:]}")


def login(base: str) -> tuple[dict, str]:
    r = httpx.post(f"{base}/api/v1/session", json={"username": "anna", "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    # The cookie is Secure, so a client on http:// would not send it back by itself.
    return {"cookie": r.headers["set-cookie"].split(";")[0], "x-csrf-token": r.json()["csrf_token"]}, base


def test_sigkill_mid_stream__every_acknowledged_submission_survives(packages, database_url, clock, tmp_path):
    app = create_app(make_settings(packages, database_url), clock=clock)
    people = seed(app)
    app.state.stegvis.db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start(packages, database_url, port, log)
    acknowledged: dict[int, str] = {}
    try:
        headers, _ = login(base)
        url = f"{base}/api/v1/enrolments/{people.enrolment_a}/forms/mal/submissions"

        def submit(i: int) -> None:
            text = f"Mål nummer {i}"
            try:
                r = httpx.post(url, json={"answers": {"mal": text, "roker": "nej"}}, headers=headers, timeout=10)
            except httpx.HTTPError:
                return
            if r.status_code == 201:
                acknowledged[r.json()["id"]] = text

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(submit, i) for i in range(40)]
            while len(acknowledged) < 12 and not all(f.done() for f in futures):
                time.sleep(0.005)
            server.send_signal(signal.SIGKILL)
            server.wait()
        assert len(acknowledged) >= 12
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    # The restart: a new app on the same database (migrations run again, as at every start).
    restarted = create_app(make_settings(packages, database_url), clock=clock)
    with restarted.state.stegvis.db.session() as db:
        stored = {row.id: row.answers["mal"] for row in db.scalars(select(FormSubmission))}
    restarted.state.stegvis.db.dispose()
    missing = {k: v for k, v in acknowledged.items() if stored.get(k) != v}
    assert missing == {}, f"lost after restart: {missing}"
