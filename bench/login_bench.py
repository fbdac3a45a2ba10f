"""Login benchmark (issue #13): do failed password logins slow everyone else down?

Not part of the test run. Everything runs on this machine, on loopback only, and every
phase is bounded in time:

1. builds FRAMÅT without audio or PDFs and seeds a SQLite database with one patient
   (`runtime_bench.prepare`), using the runtime of `--root` (this repository by default;
   `--root /path/to/other/checkout` measures another version side by side);
2. starts that runtime in one uvicorn process with the default argon2id cost (64 MiB,
   3 passes, 4 lanes) and local accounts on; throttling is set out of reach, so every
   bad password really costs a hash check;
3. phase "quiet": the patient reads their enrolment (`GET /api/v1/enrolments/{id}`, which
   writes an access-log row and so needs the database write lock) for `--seconds`;
4. phase "under attack": the same, while `--attackers` clients send bad passwords for
   unknown usernames as fast as they are answered;
5. phase "unknown vs known": `--tries` bad logins each for an unknown name and for the
   patient's name, interleaved, with their answer times.

    .venv/bin/python bench/login_bench.py [--seconds 10] [--attackers 4] [--tries 20] [--root DIR]

Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def reads(client, eid: int, seconds: float) -> list[float]:
    """Sequential reads of the enrolment for `seconds`; each one's answer time (ms)."""
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        client.get(f"/api/v1/enrolments/{eid}").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def attack(base: str, stop: threading.Event, counts: list[int]) -> None:
    """Bad passwords for unknown names until told to stop."""
    import httpx2 as httpx  # the test extra installs httpx2 (the client Starlette uses)

    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            r = client.post("/api/v1/session", json={"username": "x" + secrets.token_hex(6), "password": "gissning"})
            assert r.status_code == 401, r.status_code
            counts.append(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--root", type=Path, default=HERE.parent, help="the checkout whose runtime is measured")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(HERE))
    import httpx2 as httpx  # the test extra installs httpx2 (the client Starlette uses)
    from runtime_bench import prepare

    sys.path.insert(0, str(root))  # after runtime_bench, which puts this checkout first

    from runtime.settings import RuntimeSettings  # from --root

    work = Path(tempfile.mkdtemp(prefix="stegvis-login-bench-"))
    packages, database, logins, _steps = prepare(work, 1)
    values = {"packages": str(packages), "database_url": f"sqlite:///{database}", "cookie_secure": False,
              "local_accounts": True, "notify_worker": False, "missed_registration_check_minutes": 0,
              # Out of reach: every bad password is checked (an older runtime ignores these keys).
              "login_throttle": {"account_free": 10**9, "address_free": 10**9}}
    settings_json = RuntimeSettings.model_validate(values).model_dump_json()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(root), STEGVIS_RUNTIME_SETTINGS=settings_json)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "runtime.server:worker_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/halsa", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        username, password = logins[0]
        with httpx.Client(base_url=base, timeout=60) as patient:
            # Logging in rehashes the seeded (cheap) hash with the server's cost.
            patient.post("/api/v1/session", json={"username": username, "password": password}).raise_for_status()
            eid = patient.get("/api/v1/enrolments").json()[0]["id"]
            reads(patient, eid, 1.0)  # warm-up
            quiet = reads(patient, eid, args.seconds)
            stop, counts = threading.Event(), []
            threads = [threading.Thread(target=attack, args=(base, stop, counts)) for _ in range(args.attackers)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            before = len(counts)
            attacked = reads(patient, eid, args.seconds)
            tries = len(counts) - before
            stop.set()
            for t in threads:
                t.join(60)
        timings: dict[str, list[float]] = {"unknown": [], "known": []}
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(args.tries):
                for kind, name in (("unknown", "x" + secrets.token_hex(6)), ("known", username)):
                    started = time.perf_counter()
                    r = client.post("/api/v1/session", json={"username": name, "password": "gissning"})
                    timings[kind].append((time.perf_counter() - started) * 1000)
                    assert r.status_code == 401, r.status_code
    finally:
        server.terminate()
        server.wait(30)
    print(f"Runtime from {root}; {os.cpu_count()} cores.\n")
    print("| phase | reads | median ms | p90 ms | bad logins/s |")
    print("|---|---:|---:|---:|---:|")
    print(f"| quiet | {len(quiet)} | {statistics.median(quiet):.1f} | {percentile(quiet, 90):.1f} | 0 |")
    print(f"| {args.attackers} clients sending bad passwords | {len(attacked)} | {statistics.median(attacked):.1f} | "
          f"{percentile(attacked, 90):.1f} | {tries / args.seconds:.1f} |")
    print()
    print("| bad login for | tries | median ms | p10 ms | p90 ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, values_ in timings.items():
        print(f"| {kind} username | {len(values_)} | {statistics.median(values_):.1f} | "
              f"{percentile(values_, 10):.1f} | {percentile(values_, 90):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
