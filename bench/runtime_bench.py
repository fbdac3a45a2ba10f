"""Runtime benchmark: many simulated patients reading steps and submitting forms, against SQLite.

Not part of the test run. Everything runs on this machine, on loopback only, and
every phase is bounded in time:

1. builds FRAMÅT (content/) without audio or PDFs into a temporary folder;
2. seeds a fresh SQLite database with N patients, each enrolled in FRAMÅT;
3. starts `stegvis runtime --workers 2` (two uvicorn processes, one per core) on 127.0.0.1;
4. logs every patient in through the JSON API;
5. runs phases at a fixed offered rate: step pages, form submissions (the page form
   with its CSRF token, as a browser posts it), and a mix of the two. The default
   client is wrk (C, cheap: 25 keep-alive connections, each pausing between requests
   so that together they offer the rate; latency from send to answer). `--client
   python` is an open-loop asyncio + httpx client (requests go out on schedule whether
   or not earlier ones answered, latency counted from the scheduled time, so a slow
   server cannot hide its queue), but on two cores it takes a core from the server;
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
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx  # the test extra installs httpx2 (the client Starlette uses)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
ANSWERS = {  # a valid submission of FRAMÅT's "Min hälsa i dag" (halsoprofil)
    "allmant-halsotillstand": "bra", "valbefinnande": "7", "somnkvalitet": "6", "stress": "4", "smarta": "2",
    "fysisk-aktivitet-minuter": "120", "frukt-och-gronsaker": "en-till-tva", "roker": "aldrig", "snusar": "aldrig",
    "hur-ofta": "aldrig", "vill-forandra": "Jag vill röra mig mer och sova bättre.",
}
# Every submission's text differs (a number is added): the runtime stores the same answers sent again
# within two minutes only once (issue 14), and the bench counts every acknowledged one in the database.
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
    posted: int = 0  # submissions sent (answered or not when the phase ended)
    wall: float = 0.0
    count: int = 0  # wrk phases: requests, and (p50, p95, p99, max) in ms
    percentiles: tuple[float, float, float, float] | None = None

    def row(self) -> str:
        if self.percentiles is not None:
            p50, p95, p99, top = self.percentiles
            return (f"| {self.name} | {self.rate:g}/s | {self.count} | {self.count / self.wall:.1f}/s | {p50:.1f} | "
                    f"{p95:.1f} | {p99:.1f} | {top:.1f} | {self.errors} |")
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


def prepare(work: Path, patients: int, database_url: str | None = None
            ) -> tuple[Path, Path, list[tuple[str, str]], list[tuple[str, str]]]:
    """Build FRAMÅT, seed the database (a new SQLite file, or `database_url`, migrated here);
    return packages, the SQLite file, logins, readable steps."""
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
    settings = RuntimeSettings(packages=packages, database_url=database_url or f"sqlite:///{database}",
                               secret_key_file=work / "secret.key",
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
                    phase.posted += 1
                    r = await client.post(f"/moment/{s['eid']}/steg/{m}/{st}/formular/{form}",
                                          data={"_csrf": s["csrf"], "_action": "submit", **ANSWERS,
                                                "vill-forandra": f"{ANSWERS['vill-forandra']} ({seed}-{i})"},
                                          headers=headers)
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


WRK_SCRIPT = """
local sessions = {%(sessions)s}
local steps = {%(steps)s}
local share_posts = %(share)f
local answers = "%(answers)s"
local interval = %(interval)d
local threads = {}
math.randomseed(%(seed)d)
acks, errors, sent = 0, 0, 0
setup = function(thread) table.insert(threads, thread) end
request = function()
  local s = sessions[math.random(#sessions)]
  if math.random() < share_posts then
    sent = sent + 1
    local body = "_csrf=" .. s[2] .. "&_action=submit&" .. answers .. "&vill-forandra=Svar+%(seed)d-" .. sent
    return wrk.format("POST", "/moment/" .. s[3] .. "/steg/%(form_path)s", {["Cookie"] = s[1],
      ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  end
  return wrk.format("GET", "/moment/" .. s[3] .. "/steg/" .. steps[math.random(#steps)], {["Cookie"] = s[1]})
end
delay = function() return interval end
response = function(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  if status == 303 and string.find(location, "skickat=", 1, true) then acks = acks + 1
  elseif status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  local a, e, p = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("acks"); e = e + t:get("errors"); p = p + t:get("sent") end
  io.write(string.format("RESULT %%d %%d %%f %%f %%f %%f %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    a, e, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, p))
end
"""


def run_wrk_phase(base: str, phase: Phase, sessions: list[dict], steps: list[tuple[str, str]], share_posts: float,
                  seed: int, work: Path, connections: int = 25) -> None:
    """The same phase with wrk (C, so the client costs the server little CPU): each of `connections`
    keep-alive connections sends a request, waits for the answer, then pauses so that together
    they offer about `phase.rate` requests per second. Latency is from send to answer."""
    from urllib.parse import urlencode

    m, st, form = FORM_STEP
    script = work / f"phase{seed}.lua"
    script.write_text(WRK_SCRIPT % {
        "sessions": ", ".join(f'{{"{s["cookie"]}", "{s["csrf"]}", "{s["eid"]}"}}' for s in sessions),
        "steps": ", ".join(f'"{a}/{b}"' for a, b in steps), "share": share_posts,
        "answers": urlencode({k: v for k, v in ANSWERS.items() if k != "vill-forandra"}), "interval": int(1000 * connections / phase.rate), "seed": seed,
        "form_path": f"{m}/{st}/formular/{form}"}, "utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(phase.seconds)}s", "--timeout", "30s",
                          "-s", str(script), base], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, micros, p50, p95, p99, top, acks, errors, socket_errors, posted = line.split()[1:]
    phase.posted = int(posted)
    phase.wall = int(micros) / 1e6
    phase.count = int(requests)
    phase.percentiles = (float(p50), float(p95), float(p99), float(top))
    phase.acknowledged = int(acks)
    phase.errors = int(errors) + int(socket_errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second of the step and mixed phases")
    parser.add_argument("--post-rate", type=float, default=25.0, help="submissions per second of the form phase")
    parser.add_argument("--workers", type=int, default=2, help="runtime server processes (default: 2, one per core)")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk",
                        help="load generator: wrk (default; closed loop with pauses, cheap) or python "
                             "(asyncio + httpx, open loop, but it takes a core of its own)")
    args = parser.parse_args()
    if args.client == "wrk" and shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (Debian), or run with --client python.", file=sys.stderr)
        return 2
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
                               "--workers", str(args.workers), "--local-accounts"],
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
            if args.client == "wrk":
                run_wrk_phase(base, phase, sessions, steps, share, i + 1, work)
            else:
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
    posted = warm.posted + sum(p.posted for p in phases)
    print(f"\nSubmissions sent: {posted}; acknowledged: {acknowledged}; stored in the database: {stored}; "
          f"lost: {max(0, acknowledged - stored)} (stored − acknowledged = {stored - acknowledged} were still "
          f"unanswered when a phase ended).")
    print(f"Machine: {os.cpu_count()} cores; server: {args.workers} uvicorn process(es), SQLite WAL synchronous=FULL; "
          f"client: {args.client} on the same machine; {args.patients} patients.")
    return 0 if acknowledged <= stored <= posted and not any(p.errors for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
