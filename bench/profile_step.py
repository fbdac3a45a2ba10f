"""Profile of one logged-in patient's step page: py-spy samples a runtime process under wrk.

Not part of the test run. Builds FRAMÅT (no audio, no PDFs), seeds one patient, serves
`stegvis runtime` (one process, so one process holds every request) from `--root`, loads
the step page with wrk in a closed loop and lets py-spy (`pip install py-spy`) sample the
server meanwhile. Prints the functions with the largest shares of the samples: inclusive
(the function or what it calls) and self (the function's own code).

    .venv/bin/python bench/profile_step.py [--seconds 20] [--step introduktion/sa-fungerar-programmet] [--root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runtime_bench as bench  # noqa: E402  (the bench's build, seeding and logins)


def frame_name(frame: str) -> str:
    """`function (path/to/file.py:12)` as `file.py:function`."""
    name, _, where = frame.partition(" (")
    file = where.split(":")[0].rsplit("/", 1)[-1]
    return f"{file}:{name}"


def summarise(raw: Path, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Samples in all, and the top functions by inclusive and by self samples, from py-spy's raw output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";") if not f.startswith("thread ") and not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        total += n
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    return total, inclusive.most_common(top), own.most_common(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--step", default="introduktion/sa-fungerar-programmet")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--root", type=Path, default=bench.ROOT, help="the checkout whose runtime is served")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--only", nargs="*", help="inclusive shares of these files' functions only (say, pages.py)")
    parser.add_argument("--waits", action="store_true",
                        help="sample every busy thread (waits in SQLite, locks and fsync included); by default only "
                             "the thread holding the GIL is sampled, which shows where the CPU goes")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists() or shutil.which("wrk") is None:
        print("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="stegvis-profile-"))
    packages, database, logins, _ = bench.prepare_with(args.root, work, 1)
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(args.root.resolve()))
    server = subprocess.Popen([sys.executable, "-m", "builder.cli", "runtime", "--packages", str(packages),
                               "--database", f"sqlite:///{database}", "--port", str(port), "--local-accounts"],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    raw = args.raw or work / "stacks.txt"
    try:
        bench.wait_up(base + "/halsa")
        me = asyncio.run(bench.login_all(base, logins))[0]
        url = f"{base}/moment/{me['eid']}/steg/{args.step}"
        bench.wrk_closed(url, me["cookie"], 2, args.connections, work)  # warm
        spy = subprocess.Popen([py_spy, "record", "-p", str(server.pid), "-d", str(args.seconds + 2), "-r", "200",
                                "-f", "raw", "-o", str(raw), "--nonblocking", *([] if args.waits else ["--gil"])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        result = bench.wrk_closed(url, me["cookie"], args.seconds, args.connections, work, server.pid)
        _, err = spy.communicate(timeout=120)
        if spy.returncode != 0:
            print(err, file=sys.stderr)
            return 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    total, inclusive, own = summarise(raw, args.top)
    if args.only:
        inclusive = [(n, c) for n, c in summarise(raw, 100000)[1] if n.split(":")[0] in args.only][:args.top]
    print(f"{result['rps']:.0f} requests/s, p50 {result['p50']:.1f} ms, {result['cpu_ms']:.2f} CPU ms per request "
          f"(one process, {args.connections} connections, {args.seconds} s); {total} samples of "
          f"{'the busy threads' if args.waits else 'the thread holding the GIL'}; load {bench.load()}.\n")
    print("| inclusive | function | | self | function |\n|---:|---|---|---:|---|")
    for (name_i, n_i), (name_s, n_s) in zip(inclusive, own, strict=False):
        print(f"| {100 * n_i / total:.1f} % | `{name_i}` | | {100 * n_s / total:.1f} % | `{name_s}` |")
    if args.raw is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
