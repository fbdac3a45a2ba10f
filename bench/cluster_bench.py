"""Cluster benchmark (issue 16): two runtime instances on one PostgreSQL behind HAProxy, no sticky sessions.

Not part of the test run. Everything runs on this machine, on loopback only:

1. starts a scratch PostgreSQL cluster in a temporary folder (or uses `--database-url`),
   builds FRAMÅT without audio or PDFs, migrates and seeds N patients with enrolments
   (`runtime_bench.prepare`);
2. starts two `stegvis runtime` instances (A and B, each `--workers W` processes, default
   1) on their own ports, both on that database, and HAProxy in front (configuration
   generated into the temporary folder: round robin, no cookie or stick table, health
   checks on /halsa, HTTP keep-alive to the clients and to the servers); one HAProxy
   frontend balances over A alone, another over A and B;
3. logs every patient in (through HAProxy: the sessions are made on whichever instance
   answered), then runs the wrk phases of runtime_bench (step pages at the offered rate,
   the mixed load with 20 % form submissions) and an unthrottled step-page phase, against
   (a) instance A directly, (b) A behind HAProxy, (c) A and B behind HAProxy;
4. reads HAProxy's counters (requests answered per server: both instances served (c)),
   counts the form submissions in the database and compares them with the acknowledged
   ones (every 303 wrk saw), and prints Markdown tables for bench/RESULTS.md.

    .venv/bin/python bench/cluster_bench.py [--patients 200] [--seconds 20] [--rate 100] [--workers 1]

On a machine with few cores the instances share them: (c) has no more CPU than (a), so the
point is correctness with no sticky sessions and the proxy's cost, not more throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from runtime_bench import Phase, free_port, login_all, prepare, run_phase, run_wrk_phase  # noqa: E402

HAPROXY_CFG = """global
    log stderr format raw local0 warning
    maxconn 2000
    stats socket {work}/haproxy.sock mode 600 level admin

defaults
    mode http
    log global
    option httplog
    # Keep-alive on both sides: a client's connection stays open, and so do the connections to the servers.
    option http-keep-alive
    http-reuse safe
    # The client's address for login throttling (the runtime reads it with --client-address-header).
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 30s
    retries 2
    option redispatch

# (b): one instance behind the proxy.
frontend one
    bind 127.0.0.1:{port_one}
    default_backend only_a

# (c): two instances, round robin; no cookie, no stick table: any instance serves any request.
frontend two
    bind 127.0.0.1:{port_two}
    default_backend a_and_b

backend only_a
    balance roundrobin
    option httpchk
    http-check send meth GET uri /halsa ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    server a 127.0.0.1:{port_a} check inter 2s fall 2 rise 1

backend a_and_b
    balance roundrobin
    option httpchk
    http-check send meth GET uri /halsa ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    server a 127.0.0.1:{port_a} check inter 2s fall 2 rise 1
    server b 127.0.0.1:{port_b} check inter 2s fall 2 rise 1
"""


@dataclass
class Postgres:
    """A scratch PostgreSQL cluster in a folder of its own, stopped at the end."""

    bin: Path
    data: Path
    port: int
    owner: str | None  # the system user that runs it (postgres when we are root), None: ourselves

    @property
    def url(self) -> str:
        return f"postgresql://stegvis@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        subprocess.run(prefix + list(args), check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def start(cls, work: Path) -> Postgres:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
        if not versions:
            raise SystemExit("PostgreSQL is missing: apt-get install postgresql, or pass --database-url.")
        folder = work / "pg"
        folder.mkdir()
        owner = "postgres" if os.geteuid() == 0 else None
        if owner:
            work.chmod(0o711)  # mkdtemp's 0700 would keep the postgres user out
            shutil.chown(folder, owner)
        server = cls(versions[-1].parent, folder / "data", free_port(), owner)
        server._run(str(server.bin / "initdb"), "-D", str(server.data), "-U", "stegvis", "-A", "trust", "-E", "UTF8")
        # Durable as in production (fsync, synchronous_commit); room for every pool of every process.
        server._run(str(server.bin / "pg_ctl"), "-D", str(server.data), "-w", "-l", str(folder / "log"), "-o",
                    f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=400 "
                    "-c shared_buffers=128MB", "start")
        return server

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


def wait_healthy(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/halsa", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not answer /halsa in {seconds:.0f} s")


def haproxy_counts(work: Path) -> dict[str, int]:
    """Responses (1xx–5xx) per backend/server from HAProxy's stats socket, e.g. {"a_and_b/a": 1234}."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(work / "haproxy.sock"))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("svname") in ("a", "b"):
            out[f"{row['pxname']}/{row['svname']}"] = sum(int(row.get(f"hrsp_{k}xx") or 0) for k in range(1, 6))
    return out


def count_submissions(url: str) -> int:
    from sqlalchemy import create_engine, text

    from runtime.db import normalise_url

    engine = create_engine(normalise_url(url))
    with engine.connect() as c:
        stored = c.execute(text("SELECT count(*) FROM form_submissions")).scalar_one()
    engine.dispose()
    return stored


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="offered requests per second (steps, mixed)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn processes per instance (default: 1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections of the unthrottled phase")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead of a scratch cluster")
    args = parser.parse_args()
    for tool in ("wrk", "haproxy"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install {tool} (Debian).", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="stegvis-cluster-"))
    load_before = loadavg()
    postgres = None if args.database_url else Postgres.start(work)
    url = args.database_url or postgres.url
    processes: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        packages, _, logins, steps = prepare(work, args.patients, url)
        print(f"Prepared {args.patients} patients on PostgreSQL in {time.perf_counter() - started:.1f} s.",
              file=sys.stderr)
        port_a, port_b, port_one, port_two = (free_port() for _ in range(4))
        # This checkout's code (PYTHONPATH wins over an editable install elsewhere); one secret for both instances.
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), STEGVIS_SECRET_KEY="b" * 32)
        stegvis = [sys.executable, "-c", "import sys; from builder.cli import main; sys.exit(main())"]
        for name, port in (("a", port_a), ("b", port_b)):
            processes.append(subprocess.Popen(
                [*stegvis, "runtime", "--packages", str(packages), "--database", url,
                 "--port", str(port), "--workers", str(args.workers), "--local-accounts",
                 "--client-address-header", "X-Forwarded-For"],
                cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / f"server-{name}.log", "w")))
        config = work / "haproxy.cfg"
        config.write_text(HAPROXY_CFG.format(work=work, port_a=port_a, port_b=port_b, port_one=port_one,
                                             port_two=port_two), "utf-8")
        subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], check=True)
        processes.append(subprocess.Popen(["haproxy", "-db", "-f", str(config)], cwd=work,
                                          stdout=subprocess.DEVNULL, stderr=open(work / "haproxy.log", "w")))
        targets = {"(a) A directly": f"http://127.0.0.1:{port_a}",
                   "(b) A behind HAProxy": f"http://127.0.0.1:{port_one}",
                   "(c) A and B behind HAProxy": f"http://127.0.0.1:{port_two}"}
        for base in (f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"):
            wait_healthy(base)
        time.sleep(2.5)  # HAProxy's first health checks (every 2 s) mark both servers up
        for base in targets.values():
            wait_healthy(base)
        sessions = asyncio.run(login_all(targets["(c) A and B behind HAProxy"], logins))
        acknowledged = posted = 0
        for n, base in enumerate(targets.values()):  # warm every process's caches and pools
            warm = Phase("warm-up", 20, 3)
            asyncio.run(run_phase(base, warm, sessions, steps, 0.1, seed=100 + n))
            acknowledged += warm.acknowledged
            posted += warm.posted
        kinds = [("step pages", args.rate, 0.0), ("mixed (80 % steps, 20 % forms)", args.rate, 0.2),
                 ("step pages, unthrottled", 0.0, 0.0)]
        rows: list[tuple[str, Phase]] = []
        seed = 1
        order = list(targets.items())
        for kind, rate, share in kinds:
            # Each load starts with another target, so that a machine getting busier during the
            # run does not always fall on the same one.
            order = order[1:] + order[:1] if rows else order
            for target, base in order:
                phase = Phase(kind, rate, args.seconds)
                if rate > 0:
                    run_wrk_phase(base, phase, sessions, steps, share, seed, work)
                else:
                    phase.rate = 1e9  # no pause between requests (the interval rounds to 0 ms)
                    run_wrk_phase(base, phase, sessions, steps, share, seed, work, connections=args.connections)
                    phase.rate = 0.0
                seed += 1
                acknowledged += phase.acknowledged
                posted += phase.posted
                rows.append((target, phase))
                print(f"{target}: {row(phase)}", file=sys.stderr)
        per_server = haproxy_counts(work)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    try:
        stored = count_submissions(url)
    finally:
        if postgres is not None:
            postgres.stop()
    load_after = loadavg()
    print("| load | target | offered | requests | throughput | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for target, phase in sorted(rows, key=lambda r: ([k[0] for k in kinds].index(r[1].name), r[0])):
        print(f"| {phase.name} | {target} {row(phase)}")
    print("\nOrder of the runs: " + "; ".join(f"{p.name}: {t[:3]}" for t, p in rows) + ".")
    print("\nResponses per instance counted by HAProxy (warm-up, logins and phases): "
          + ", ".join(f"{k} {v}" for k, v in sorted(per_server.items())) + ".")
    print(f"Submissions sent: {posted}; acknowledged (303 to the receipt): {acknowledged}; stored in the database: "
          f"{stored}; acknowledged but missing: {max(0, acknowledged - stored)} (every text differs, so none is "
          f"stored twice; stored − acknowledged = {stored - acknowledged} were still unanswered when wrk stopped).")
    print(f"Machine: {os.cpu_count()} cores, load average {load_before} before and {load_after} after; "
          f"each instance {args.workers} uvicorn process(es); PostgreSQL on the same machine (fsync on); "
          f"wrk and HAProxy on the same machine; {args.patients} patients, {args.seconds:g} s per phase.")
    errors = sum(p.errors for _, p in rows)
    return 0 if acknowledged <= stored <= posted and not errors else 1


def row(phase: Phase) -> str:
    """The table cells after the phase's name and target."""
    p50, p95, p99, top = phase.percentiles
    offered = f"{phase.rate:g}/s" if phase.rate else "as fast as it answers"
    return (f"| {offered} | {phase.count} | {phase.count / phase.wall:.1f}/s | {p50:.1f} | {p95:.1f} | {p99:.1f} | "
            f"{top:.1f} | {phase.errors} |")


if __name__ == "__main__":
    sys.exit(main())
