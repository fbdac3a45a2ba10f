"""Runtime benchmark: many simulated patients reading steps and submitting forms, against SQLite.

Not part of the test run. Everything runs on this machine, on loopback only, and
every phase is bounded in time:

1. builds FRAMÅT (content/) without audio or PDFs into a temporary folder;
2. seeds a fresh SQLite database with N patients, each enrolled in FRAMÅT;
3. starts `stegvis runtime --workers 2` (two uvicorn processes, one per core) on 127.0.0.1;
4. logs every patient in through the JSON API;
5. runs open-loop phases at fixed rates (requests are sent on schedule whether or
   not earlier ones have answered, and latency is counted from the scheduled time,
   so a slow server cannot hide its queue): step pages, form submissions (the page
   form with its CSRF token, as a browser posts it), and a mix of the two;
6. counts the submissions in the database and compares with the acknowledged ones.

    .venv/bin/python bench/runtime_bench.py [--patients 200] [--seconds 20] [--rate 100]

Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
ANSWERS = {  # a valid submission of FRAMÅT's "Min hälsa i dag" (halsoprofil)
    "allmant-halsotillstand": "bra", "valbefinnande": "7", "somnkvalitet": "6", "stress": "4", "smarta": "2",
    "fysisk-aktivitet-minuter": "120", "frukt-och-gronsaker": "en-till-tva", "tobak": "nej-aldrig",
    "vill-forandra": "Jag vill röra mig mer och sova bättre.",
}
FORM_STEP = ("introduktion", "min-halsa-i-dag", "halsoprofil")


@dataclass
class Phase:
    """Latencies (ms) and outcomes of one phase."""

    name: str
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    acknowledged: int = 0
    wall: float = 0.0

    def row(self) -> str:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else float("nan")

        throughput = len(lat) / self.wall if self.wall else 0
        return (f"| {self.name} | {self.rate:g}/s | {len(lat)} | {throughput:.1f}/s | {pct(50):.1f} | {pct(95):.1f} | "
                f"{pct(99):.1f} | {max(lat) if lat else float('nan'):.1f} | {self.errors} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(work: Path, patients: int) -> tuple[Path, Path, list[tuple[str, str]], list[tuple[str, str]]]:
    """Build FRAMÅT, seed the database; return packages, database, logins, readable steps."""
    from builder.config import BuildConfig
    from builder.diagnostics import Diagnostics
    from builder.pipeline import build_dir
    from runtime.app import create_app
    from runtime.enrolments import create_enrolment
    from runtime.models import Unit, User, UserKind
    from runtime.settings import Argon2Params, RuntimeSettings

    packages = work / "packages"
    outcome = build_dir(ROOT / "content", BuildConfig(out=packages, audio=False, pdf=False), Diagnostics())
    assert outcome.package is not None, "FRAMÅT did not build"
    database = work / "bench.sqlite3"
    settings = RuntimeSettings(packages=packages, database_url=f"sqlite:///{database}",
                               argon2=Argon2Params(time_cost=1, memory_cost=8, parallelism=1))
    app = create_app(settings)
    state = app.state.stegvis
    package = state.store.latest("framat")
    now = datetime.now(UTC)
    logins = []
    with state.db.session() as db:
        unit = Unit(name="Benchmark", created_at=now)
        db.add(unit)
        for i in range(patients):
            user = User(kind=UserKind.citizen, display_name=f"Patient {i}", created_at=now)
            db.add(user)
            db.flush()
            state.local_accounts.set_password(db, user, f"p{i}", "bench-password", now)
            create_enrolment(db, user, unit, package, now - timedelta(days=3))
            logins.append((f"p{i}", "bench-password"))
    steps = [(m["id"], s["id"]) for m, _, s in package.steps()
             if m.get("start") == "current" and s.get("visible", True)]
    state.db.dispose()
    return packages, database, logins, steps


async def login_all(base: str, logins: list[tuple[str, str]]) -> list[dict]:
    """Log every patient in; returns per patient the cookie header, CSRF token and enrolment id."""
    sessions = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for username, password in logins:
            r = await client.post("/api/v1/session", json={"username": username, "password": password})
            r.raise_for_status()
            cookie = r.headers["set-cookie"].split(";")[0]
            enrolments = await client.get("/api/v1/enrolments", headers={"cookie": cookie})
            sessions.append({"cookie": cookie, "csrf": r.json()["csrf_token"], "eid": enrolments.json()[0]["id"]})
            client.cookies.clear()
    return sessions


async def run_phase(base: str, phase: Phase, sessions: list[dict], steps: list[tuple[str, str]], share_posts: float,
                    seed: int) -> None:
    """Send requests at a fixed rate for a fixed time; post forms with probability `share_posts`."""
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    total = int(phase.rate * phase.seconds)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        start = time.perf_counter()

        async def one(i: int) -> None:
            due = start + i / phase.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            s = rng.choice(sessions)
            headers = {"cookie": s["cookie"]}
            try:
                if rng.random() < share_posts:
                    m, st, form = FORM_STEP
                    r = await client.post(f"/moment/{s['eid']}/steg/{m}/{st}/formular/{form}",
                                          data={"_csrf": s["csrf"], "_action": "submit", **ANSWERS}, headers=headers)
                    ok = r.status_code == 303 and "skickat=" in r.headers.get("location", "")
                    phase.acknowledged += ok
                else:
                    m, st = rng.choice(steps)
                    r = await client.get(f"/moment/{s['eid']}/steg/{m}/{st}", headers=headers)
                    ok = r.status_code == 200
                if not ok:
                    phase.errors += 1
            except httpx.HTTPError:
                phase.errors += 1
            phase.latencies.append((time.perf_counter() - due) * 1000)

        await asyncio.gather(*(one(i) for i in range(total)))
        phase.wall = time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second of the step and mixed phases")
    parser.add_argument("--post-rate", type=float, default=25.0, help="submissions per second of the form phase")
    parser.add_argument("--workers", type=int, default=2, help="runtime server processes (default: 2, one per core)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stegvis-bench-"))
    started = time.perf_counter()
    packages, database, logins, steps = prepare(work, args.patients)
    print(f"Prepared {args.patients} patients, {len(steps)} readable steps in {time.perf_counter() - started:.1f} s.",
          file=sys.stderr)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen([str(ROOT / ".venv/bin/stegvis"), "runtime", "--packages", str(packages),
                               "--database", f"sqlite:///{database}", "--port", str(port),
                               "--workers", str(args.workers)],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/halsa", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        sessions = asyncio.run(login_all(base, logins))
        warm = Phase("warm-up", 20, 3)
        asyncio.run(run_phase(base, warm, sessions, steps, 0.1, seed=0))
        phases = [Phase("step pages", args.rate, args.seconds),
                  Phase("form submissions", args.post_rate, args.seconds),
                  Phase("mixed (80 % steps, 20 % forms)", args.rate, args.seconds)]
        shares = [0.0, 1.0, 0.2]
        for i, (phase, share) in enumerate(zip(phases, shares, strict=True)):
            asyncio.run(run_phase(base, phase, sessions, steps, share, seed=i + 1))
            print(phase.row(), file=sys.stderr)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    with sqlite3.connect(database) as con:
        stored = con.execute("SELECT count(*) FROM form_submissions").fetchone()[0]
    acknowledged = warm.acknowledged + sum(p.acknowledged for p in phases)
    print("| phase | offered | requests | throughput | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for phase in phases:
        print(phase.row())
    print(f"\nSubmissions acknowledged: {acknowledged}; stored in the database: {stored}; "
          f"lost: {acknowledged - stored}.")
    print(f"Machine: {os.cpu_count()} cores; server: {args.workers} uvicorn process(es), SQLite WAL synchronous=FULL; "
          f"client: asyncio + httpx on the same machine; {args.patients} patients.")
    return 0 if acknowledged == stored and not any(p.errors for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
