"""Runtime benchmark: many simulated patients reading steps and submitting forms, against SQLite.

Not part of the test run. Everything runs on this machine, on loopback only, and
every phase is bounded in time:

1. builds FRAMÅT (content/) without audio or PDFs into a temporary folder;
2. seeds a fresh SQLite database with N patients, each enrolled in FRAMÅT;
3. starts `stegvis runtime --workers 2` (two uvicorn processes, one per core) on 127.0.0.1,
   and beside it the floor app (`bench/floor_app.py`: bare FastAPI + Jinja2, a page of the
   same size, two fsynced SQLite inserts per request, served the same way);
4. logs every patient in through the JSON API;
5. the ratio: one logged-in patient's step page against the floor's page, wrk in a closed
   loop (no pauses), the two taking turns in short rounds so that both see the same load;
   first on the machine as it is ("quiet"), then with a CPU burner process pinned to one
   core ("contention");
6. runs phases at a fixed offered rate: step pages, form submissions (the page form
   with its CSRF token, as a browser posts it), and a mix of the two. The default
   client is wrk (C, cheap: 25 keep-alive connections, each pausing between requests
   so that together they offer the rate; latency from send to answer). `--client
   python` is an open-loop asyncio + httpx client (requests go out on schedule whether
   or not earlier ones answered, latency counted from the scheduled time, so a slow
   server cannot hide its queue), but on two cores it takes a core from the server;
7. counts the submissions in the database and compares with the acknowledged ones, and
   reports the peak RSS (VmHWM) of every server worker.

    .venv/bin/python bench/runtime_bench.py [--patients 200] [--seconds 20] [--rate 100] [--root DIR] [--json FILE]

`--root` runs another checkout's runtime (say, main's, for a before/after). Prints Markdown
tables for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
#: The checkout whose builder and runtime build, seed and serve (`--root`; the preparing subprocess gets it here).
CODE_ENV = "STEGVIS_BENCH_CODE"
sys.path.insert(0, os.environ.get(CODE_ENV) or str(ROOT))

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
ANSWERS = {  # a valid submission of FRAMÅT's "Min hälsa i dag" (halsoprofil)
    "allmant-halsotillstand": "bra", "valbefinnande": "7", "somnkvalitet": "6", "stress": "4", "smarta": "2",
    "fysisk-aktivitet-minuter": "120", "frukt-och-gronsaker": "en-till-tva", "roker": "aldrig", "snusar": "aldrig",
    "hur-ofta": "aldrig",
}
#: The free-text answer; each submission gets a number of its own, because the runtime stores a
#: submission with the same answers as the patient's last one (within 2 minutes) only once (issue 14).
WISH = "Jag vill röra mig mer och sova bättre, mål"
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


def prepare_with(root: Path, work: Path, patients: int) -> tuple[Path, Path, list[tuple[str, str]],
                                                                  list[tuple[str, str]]]:
    """`prepare` by `root`'s builder and runtime (its migrations make the database), in a subprocess."""
    env = dict(os.environ, PYTHONPATH=str(root.resolve()), **{CODE_ENV: str(root.resolve())})
    out = subprocess.run([sys.executable, __file__, "--prepare", str(work), str(patients)], env=env,
                         capture_output=True, text=True, check=True).stdout
    packages, database, logins, steps = json.loads(out.strip().splitlines()[-1])
    return Path(packages), Path(database), [tuple(x) for x in logins], [tuple(x) for x in steps]


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
                                                "vill-forandra": f"{WISH} {i}"}, headers=headers)
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
local wish = "%(wish)s"
local threads = {}
math.randomseed(%(seed)d)
acks, errors, sent = 0, 0, 0
setup = function(thread) table.insert(threads, thread) end
request = function()
  local s = sessions[math.random(#sessions)]
  if math.random() < share_posts then
    sent = sent + 1
    local body = "_csrf=" .. s[2] .. "&_action=submit&" .. answers .. "&vill-forandra=" .. wish .. "+%(seed)d-" .. sent
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
        "answers": urlencode(ANSWERS), "wish": urlencode({"w": WISH})[2:],
        "interval": int(1000 * connections / phase.rate), "seed": seed,
        "form_path": f"{m}/{st}/formular/{form}"}, "utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(phase.seconds)}s", "--timeout", "30s",
                          "-s", str(script), base], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    out = out.stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, micros, p50, p95, p99, top, acks, errors, socket_errors, posted = line.split()[1:]
    phase.posted = int(posted)
    phase.wall = int(micros) / 1e6
    phase.count = int(requests)
    phase.percentiles = (float(p50), float(p95), float(p99), float(top))
    phase.acknowledged = int(acks)
    phase.errors = int(errors) + int(socket_errors)


RATIO_SCRIPT = """
wrk.headers["Cookie"] = "%(cookie)s"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process and its children alive now (the uvicorn workers), from /proc."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wrk_closed(url: str, cookie: str, seconds: float, connections: int, work: Path, server: int | None = None) -> dict:
    """wrk in a closed loop (each connection sends its next request when the answer comes): the most the
    server answers; returns requests per second, percentiles (ms), errors, and the CPU milliseconds the
    server's processes (`server`: the parent's pid) spent per request."""
    script = work / "ratio.lua"
    script.write_text(RATIO_SCRIPT % {"cookie": cookie}, "utf-8")
    cpu = cpu_seconds(server)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "30s",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server) - cpu
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, micros, p50, p95, p99, top, errors = line.split()[1:]
    return {"rps": int(requests) / (int(micros) / 1e6), "p50": float(p50), "p95": float(p95), "p99": float(p99),
            "max": float(top), "errors": int(errors), "requests": int(requests),
            "cpu_ms": 1000 * cpu / max(1, int(requests))}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def cpu_burner() -> subprocess.Popen:
    """A busy Python process pinned to the first core (the other work of a shared machine)."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(burner.pid, {sorted(os.sched_getaffinity(0))[0]})
    return burner


def ratio_rounds(runtime_url: str, floor_url: str, cookie: str, rounds: int, seconds: float, connections: int,
                 work: Path, pids: dict[str, int]) -> dict:
    """`rounds` rounds of the runtime's step page and the floor's page, taking turns (the order alternates)."""
    out: dict[str, list[dict]] = {"runtime": [], "floor": []}
    for i in range(rounds):
        order = [("runtime", runtime_url), ("floor", floor_url)]
        for name, url in (order if i % 2 == 0 else order[::-1]):
            out[name].append(wrk_closed(url, cookie, seconds, connections, work, pids[name]))
    ratios = [r["rps"] / f["rps"] for r, f in zip(out["runtime"], out["floor"], strict=True)]
    summary = {name: {k: median([r[k] for r in runs]) for k in ("rps", "p50", "p95", "p99", "cpu_ms")} | {
        "errors": sum(r["errors"] for r in runs)} for name, runs in out.items()}
    return {"rounds": out, "ratios": ratios, "ratio": median(ratios), **summary}


def worker_rss(pid: int) -> list[tuple[int, int, int]]:
    """(pid, peak RSS kB, RSS kB) of every child process of `pid` (the uvicorn workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == pid and b"resource_tracker" not in command:
            found.append((int(entry.name), int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])))
    return sorted(found)


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> int:
    if sys.argv[1:2] == ["--prepare"]:
        packages, database, logins, steps = prepare(Path(sys.argv[2]), int(sys.argv[3]))
        print(json.dumps([str(packages), str(database), logins, steps]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second of the step and mixed phases")
    parser.add_argument("--post-rate", type=float, default=25.0, help="submissions per second of the form phase")
    parser.add_argument("--workers", type=int, default=2, help="runtime server processes (default: 2, one per core)")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk",
                        help="load generator: wrk (default; closed loop with pauses, cheap) or python "
                             "(asyncio + httpx, open loop, but it takes a core of its own)")
    parser.add_argument("--ratio-rounds", type=int, default=3, help="rounds of runtime vs floor, per condition")
    parser.add_argument("--ratio-seconds", type=float, default=5.0, help="length of each wrk run of a round")
    parser.add_argument("--ratio-connections", type=int, default=8, help="wrk connections of the ratio rounds")
    parser.add_argument("--ratio-step", default="introduktion/sa-fungerar-programmet",
                        help="the step (module/step) of the ratio rounds")
    parser.add_argument("--floor-commits", type=int, choices=(1, 2), default=1,
                        help="the floor's transactions per request: 1 (both inserts in one, as the runtime "
                             "writes them; default) or 2 (each insert committed and fsynced on its own)")
    parser.add_argument("--skip-ratio", action="store_true", help="no runtime vs floor rounds")
    parser.add_argument("--skip-load", action="store_true", help="no 200-patient phases")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose runtime is served")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if shutil.which("wrk") is None and (args.client == "wrk" or not args.skip_ratio):
        print("wrk is missing: apt-get install wrk (Debian), or run with --client python --skip-ratio.",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="stegvis-bench-"))
    started = time.perf_counter()
    packages, database, logins, steps = prepare_with(args.root, work, args.patients)
    print(f"Prepared {args.patients} patients, {len(steps)} readable steps in {time.perf_counter() - started:.1f} s.",
          file=sys.stderr)
    if args.ratio_step not in {f"{m}/{st}" for m, st in steps}:
        print(f"--ratio-step {args.ratio_step} is not a readable step", file=sys.stderr)
        return 2
    port, floor_port = free_port(), free_port()
    base, floor_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(args.root.resolve()))
    server = subprocess.Popen([sys.executable, "-m", "builder.cli", "runtime", "--packages", str(packages),
                               "--database", f"sqlite:///{database}", "--port", str(port),
                               "--workers", str(args.workers), "--local-accounts"],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    floor = None
    report: dict = {"root": str(args.root), "patients": args.patients, "workers": args.workers,
                    "load_before": load()}
    try:
        wait_up(base + "/halsa")
        sessions = asyncio.run(login_all(base, logins))
        warm = Phase("warm-up", 20, 3)
        asyncio.run(run_phase(base, warm, sessions, steps, 0.1, seed=0))
        phases = []
        if not args.skip_ratio:
            me = sessions[0]
            step_url = f"{base}/moment/{me['eid']}/steg/{args.ratio_step}"
            page = httpx.get(step_url, headers={"cookie": me["cookie"]}, timeout=10)
            page.raise_for_status()
            floor = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_app.py"), "--port", str(floor_port),
                                      "--workers", str(args.workers), "--database", str(work / "floor.sqlite3"),
                                      "--page-bytes", str(len(page.content)), "--commits", str(args.floor_commits)],
                                     cwd=work, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                     stdout=subprocess.DEVNULL, stderr=open(work / "floor.log", "w"))
            floor_url = f"{floor_base}/moment/{me['eid']}/steg/{args.ratio_step}"
            wait_up(floor_url)
            floor_bytes = len(httpx.get(floor_url, headers={"cookie": me["cookie"]}, timeout=10).content)
            report["page_bytes"] = {"runtime": len(page.content), "floor": floor_bytes}
            for _ in range(2):  # warm both
                wrk_closed(step_url, me["cookie"], 1, args.ratio_connections, work)
                wrk_closed(floor_url, me["cookie"], 1, args.ratio_connections, work)
            for condition in ("quiet", "contention"):
                burner = cpu_burner() if condition == "contention" else None
                try:
                    report[f"load_{condition}"] = load()
                    result = ratio_rounds(step_url, floor_url, me["cookie"], args.ratio_rounds, args.ratio_seconds,
                                          args.ratio_connections, work, {"runtime": server.pid, "floor": floor.pid})
                finally:
                    if burner is not None:
                        burner.kill()
                        burner.wait()
                report[condition] = result
                print(f"{condition}: runtime {result['runtime']['rps']:.1f}/s, floor {result['floor']['rps']:.1f}/s, "
                      f"ratio {result['ratio']:.2f} (rounds: {', '.join(f'{r:.2f}' for r in result['ratios'])})",
                      file=sys.stderr)
            floor.terminate()
            floor.wait(timeout=30)
            floor = None
        if not args.skip_load:
            report["load_phases"] = load()
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
        report["rss"] = worker_rss(server.pid)
        report["load_after"] = load()
    finally:
        for process in (floor, server):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    with sqlite3.connect(database) as con:
        stored = con.execute("SELECT count(*) FROM form_submissions").fetchone()[0]
    acknowledged = warm.acknowledged + sum(p.acknowledged for p in phases)
    print(f"Load average (1, 5, 15 min): before {report['load_before']}, after {report['load_after']}.")
    if not args.skip_ratio:
        print(f"\nOne patient's step page ({args.ratio_step}, {report['page_bytes']['runtime']} bytes) against the "
              f"floor ({report['page_bytes']['floor']} bytes): wrk closed loop, {args.ratio_connections} connections, "
              f"{args.ratio_rounds} rounds of {args.ratio_seconds:g} s each, medians; the floor commits its two "
              f"inserts in {args.floor_commits} transaction(s).\n")
        print("| condition | runtime req/s | floor req/s | ratio | runtime p50/p95/p99 ms | floor p50/p95/p99 ms "
              "| CPU ms per request: runtime / floor |")
        print("|---|---|---|---|---|---|---|")
        for condition in ("quiet", "contention"):
            r = report[condition]
            rt, fl = r["runtime"], r["floor"]
            print(f"| {condition} (load {report[f'load_{condition}']}) | {rt['rps']:.0f} | {fl['rps']:.0f} | "
                  f"{r['ratio']:.2f} | {rt['p50']:.1f} / {rt['p95']:.1f} / {rt['p99']:.1f} | "
                  f"{fl['p50']:.1f} / {fl['p95']:.1f} / {fl['p99']:.1f} | {rt['cpu_ms']:.2f} / {fl['cpu_ms']:.2f} |")
    if phases:
        print(f"\n{args.patients} patients (load at start {report['load_phases']}):\n")
        print("| phase | offered | requests | throughput | p50 ms | p95 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
        for phase in phases:
            print(phase.row())
        report["phases"] = [{"name": p.name, "offered": p.rate, "requests": p.count or len(p.latencies),
                             "throughput": (p.count or len(p.latencies)) / p.wall if p.wall else 0,
                             "percentiles": p.percentiles, "errors": p.errors} for p in phases]
    print("\nRuntime workers' peak RSS: " + ", ".join(f"{peak / 1024:.0f} MB (now {now / 1024:.0f} MB)"
                                                    for _, peak, now in report["rss"]))
    # wrk stops at the end of a phase without waiting for the answers in flight: those submissions
    # are stored but never counted as acknowledged, so only fewer stored than acknowledged is a loss.
    print(f"\nSubmissions acknowledged: {acknowledged}; stored in the database: {stored}; "
          f"lost: {max(0, acknowledged - stored)} (stored but unanswered when a phase ended: "
          f"{max(0, stored - acknowledged)}).")
    print(f"Machine: {os.cpu_count()} cores; server: {args.workers} uvicorn process(es), SQLite WAL synchronous=FULL; "
          f"client: {args.client} on the same machine; {args.patients} patients; runtime from {args.root}.")
    report["acknowledged"], report["stored"] = acknowledged, stored
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), "utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if acknowledged <= stored and not any(p.errors for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
