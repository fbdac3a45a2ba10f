"""Site benchmark (issue #7): Stegvis' HTML build, rebuilds and serve against Hugo, MkDocs
and the bare markdown-it-py + Jinja2 loop, on the same synthetic text, side by side.

Not a test: run it by hand and copy the tables into bench/RESULTS.md.

    apt-get install hugo && .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/site_bench.py [--runs 3] [--sizes 150 2000] [--json out.json]

For each size (150 steps: one program; 2,000 steps: a region's catalogue), in a temporary
folder made by bench/generate.py, as medians of --runs runs, tools interleaved run by run:

- cold:      a full HTML build from nothing (`stegvis build --no-audio --no-pdf`, empty
             output and cache; `hugo`; `mkdocs build`; the bare loop);
- no change: the same build again with nothing changed;
- one edit:  one step's text changed, then the build again;
- CPU:       user + system seconds of each build (with its worker processes), which other
             work on a shared machine changes far less than wall time;
- serve:     `stegvis serve`: from saving a step to the reload event (server-sent event),
             and to the served page showing the new text; `hugo server` and `mkdocs serve`:
             to the served page showing the new text (polled every 5 ms). Loopback only;
             every server is stopped at the end. `mkdocs serve` only up to --mkdocs-serve-max
             steps (it rebuilds the whole site, about a minute at 2,000 steps).

`--profile` adds an in-process profile of Stegvis' stages on the largest size.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import generate, step_file  # noqa: E402

BIN = Path(sys.executable).parent
# This tree's code (the installed `stegvis` script may point at another checkout).
STEGVIS = [sys.executable, str(ROOT / "build.py")]
MKDOCS = [str(BIN / "mkdocs")]
EDITED_STEP = 10  # the step edited in every "one edit" run (in the first module)
POLL = 0.005


#: peak RSS (kB) and CPU seconds (user + system, its waited-for children included) of the last
#: command run, and the load averages seen before each command
LAST_RSS: list[int] = [0]
LAST_CPU: list[float] = [0.0]
LOADS: list[float] = []


def load_average() -> float:
    """The 1-minute load average now (the machine is shared)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(cmd: list[str], timeout: float = 900, cwd: Path | None = None) -> float:
    """Wall time of a command (it must succeed); its peak RSS goes to LAST_RSS."""
    LOADS.append(load_average())
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    LAST_RSS[0] = usage.ru_maxrss  # kB on Linux: the command's largest process
    # CPU time does not grow with other work on a shared machine the way wall time does
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr.decode()[-2000:]}")
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tools:
    """The four builders of one generated corpus, with their output folders."""

    def __init__(self, folders: dict[str, Path], work: Path) -> None:
        self.f = folders
        self.work = work
        program = folders["stegvis"]
        self.step = step_file(program, EDITED_STEP)
        module_id = self.step.parent.name.split("-", 1)[1]
        step_id = self.step.stem.split("-", 1)[1]
        self.peer_steps = {
            "hugo": folders["hugo"] / "content" / module_id / f"{step_id}.md",
            "mkdocs": folders["mkdocs"] / "docs" / module_id / f"{step_id}.md",
            "bare": folders["bare"] / module_id / f"{step_id}.md",
        }
        self.urls = {"stegvis": f"{module_id}/{step_id}.html", "hugo": f"{module_id}/{step_id}/",
                     "mkdocs": f"{module_id}/{step_id}/"}
        self.edits = 0

    def out(self, tool: str, fresh: bool) -> Path:
        out = self.work / f"out-{tool}"
        if fresh and out.exists():
            shutil.rmtree(out)
        return out

    def build(self, tool: str, fresh: bool = False) -> float:
        out = self.out(tool, fresh)
        if tool == "stegvis":
            cache = self.work / "cache-stegvis"
            if fresh and cache.exists():
                shutil.rmtree(cache)
            return run([*STEGVIS, "build", str(self.f["stegvis"]), "--no-audio", "--no-pdf", "--out", str(out),
                        "--cache", str(cache)])
        if tool == "hugo":
            return run(["hugo", "--quiet", "-s", str(self.f["hugo"]), "-d", str(out)])
        if tool == "mkdocs":
            return run([*MKDOCS, "build", "-q", "-f", str(self.f["mkdocs"] / "mkdocs.yml"), "-d", str(out)])
        return run([sys.executable, str(ROOT / "bench" / "bare_loop.py"), str(self.f["bare"]), str(out)])

    def edit_title(self) -> str:
        """Change the edited step's title in every layout (front matter and heading); returns the new title."""
        self.edits += 1
        title = f"Rubrik nummer {self.edits}"
        for path in [self.step, *self.peer_steps.values()]:
            lines = path.read_text("utf-8").split("\n")
            lines = [f'title: "{title}"' if line.startswith("title:") else line for line in lines]
            path.write_text("\n".join(lines), "utf-8")
        return title

    def edit(self) -> str:
        """Change the edited step's text in every layout; returns the new marker text."""
        self.edits += 1
        marker = f"Ändring nummer {self.edits} av steget."
        for path in [self.step, *self.peer_steps.values()]:
            text = path.read_text("utf-8")
            lines = [line for line in text.split("\n") if not line.startswith("Ändring nummer")]
            path.write_text("\n".join(lines).rstrip("\n") + f"\n\n{marker}\n", "utf-8")
        return marker


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_builds(tools: Tools, runs: int, names: list[str]) -> dict[str, dict[str, float]]:
    """cold, no change and one edit for each tool: medians in seconds."""
    times: dict[str, dict[str, list[float]]] = {n: {"cold": [], "nochange": [], "edit": [], "rss_kb": [],
                                                     "load": [], "cold_cpu": [], "nochange_cpu": [],
                                                     "edit_cpu": []} for n in names}
    for r in range(runs):
        for name in names:
            print(f"  run {r + 1}/{runs}: {name}", file=sys.stderr, flush=True)
            times[name]["load"].append(load_average())
            times[name]["cold"].append(tools.build(name, fresh=True))
            times[name]["rss_kb"].append(LAST_RSS[0])
            times[name]["cold_cpu"].append(LAST_CPU[0])
            times[name]["nochange"].append(tools.build(name))
            times[name]["nochange_cpu"].append(LAST_CPU[0])
            tools.edit()
            times[name]["edit"].append(tools.build(name))
            times[name]["edit_cpu"].append(LAST_CPU[0])
    return {n: {k: median(v) for k, v in t.items()} | {"load_range": [min(t["load"]), max(t["load"])]}
            for n, t in times.items()}


def wait_http(url: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def wait_text(url: str, text: str, started: float, timeout: float = 300) -> float:
    """Seconds from `started` until the page at `url` contains `text` (polled)."""
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if text in response.read().decode("utf-8", "replace"):
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(POLL)
    raise TimeoutError(f"{url} never showed {text!r}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def bench_stegvis_serve(tools: Tools, runs: int, title: bool = True) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    log = (tools.work / "serve.log").open("w")
    LOADS.append(load_average())
    proc = subprocess.Popen([*STEGVIS, "serve", str(tools.f["stegvis"]), "--port", str(port), "--no-audio",
                             "--no-pdf", "--cache", str(tools.work / "cache-serve")],
                            stdout=subprocess.DEVNULL, stderr=log)
    sse, page = [], []
    try:
        started = time.perf_counter()
        wait_http(base + "__stegvis/status", 600, proc)
        first = time.perf_counter() - started
        for _ in range(runs):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = json.loads(urllib.request.urlopen(base + "__stegvis/status").read())
            conn.request("GET", f"/__stegvis/events?v={status['version']}")
            response = conn.getresponse()
            while response.fp.readline().strip() != b"":  # the hello event
                pass
            LOADS.append(load_average())
            marker = tools.edit_title() if title else tools.edit()
            t0 = time.perf_counter()
            while not response.fp.readline().startswith(b"event: reload"):
                if time.perf_counter() - t0 > 120:  # keep-alive lines arrive every 15 s
                    raise TimeoutError("no reload event after an edit")
            sse.append(time.perf_counter() - t0)
            page.append(wait_text(base + tools.urls["stegvis"], marker, t0))
            conn.close()
            time.sleep(0.3)
    finally:
        stop(proc)
        log.close()
    return {"first": first, "sse": median(sse), "page": median(page)}


def bench_peer_serve(tools: Tools, runs: int, name: str, title: bool = True) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    if name == "hugo":
        cmd = ["hugo", "server", "-s", str(tools.f["hugo"]), "--bind", "127.0.0.1", "--port", str(port),
               "--disableFastRender", "--appendPort=true", "--baseURL", "http://127.0.0.1/"]
    else:
        cmd = [*MKDOCS, "serve", "-f", str(tools.f["mkdocs"] / "mkdocs.yml"), "-a", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = []
    try:
        started = time.perf_counter()
        wait_http(base + tools.urls[name], 900, proc)
        first = time.perf_counter() - started
        for _ in range(runs):
            LOADS.append(load_average())
            marker = tools.edit_title() if title else tools.edit()
            page.append(wait_text(base + tools.urls[name], marker, time.perf_counter()))
            time.sleep(0.5)
    finally:
        stop(proc)
    return {"first": first, "page": median(page)}


def stage_profile(program: Path) -> dict[str, float]:
    """Seconds per stage of one in-process HTML build (no package write), for RESULTS.md."""
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args):
        t = time.perf_counter()
        value = fn(*args)
        timings[name] = time.perf_counter() - t
        return value

    t = time.perf_counter()
    from builder.check.accessibility import check_accessibility
    from builder.check.readability import check_language, check_readability
    from builder.check.references import check_references
    from builder.config import BuildConfig
    from builder.diagnostics import Diagnostics
    from builder.package import zip_bytes
    from builder.render.data import program_data
    from builder.render.html import render_pages
    from builder.resolve import resolve_program
    from builder.validate import validate_program

    timings["import"] = time.perf_counter() - t
    diags = Diagnostics()
    tree = timed("load (read, YAML front matter)", resolve_program, program, diags)
    prog = timed("validate (pydantic, Markdown parse)", validate_program, tree, diags)
    for rule in (check_references, check_accessibility, check_readability, check_language):
        timed(f"check: {rule.__name__}", rule, prog, diags)
    config = BuildConfig(audio=False, pdf=False)
    timed("render pages, 1 process", render_pages, prog, config, {}, None)
    files = timed("render pages, 2 processes", lambda: render_pages(prog, config, {}, None, jobs=2))
    timed("program.json", program_data, prog, "x")
    timed("zip", zip_bytes, "x", files, 315532800)
    return timings


def versions() -> dict[str, str]:
    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "missing"

    from importlib.metadata import PackageNotFoundError, version

    def _version(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "missing"

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "python": platform.python_version(), "stegvis": version("stegvis"), "hugo": out(["hugo", "version"]),
            "mkdocs": _version("mkdocs"), "markdown-it-py": version("markdown-it-py"), "jinja2": version("jinja2"),
            "load": " ".join(Path("/proc/loadavg").read_text().split()[:3])}


def table(size: int, builds: dict, serve: dict) -> str:
    """Markdown tables of one size, with ratios to Hugo."""
    hugo = builds.get("hugo", {})
    lines = [f"### {size} steps", "", "| build | Stegvis | Hugo | MkDocs | bare loop | Stegvis/Hugo |", "|---|---|---|---|---|---|"]
    for key, label in (("cold", "full HTML build, cold"), ("nochange", "no-change rebuild"),
                       ("edit", "one-step edit rebuild")):
        cells = [f"{builds[t][key]:.2f} s" if t in builds else "–" for t in ("stegvis", "hugo", "mkdocs", "bare")]
        ratio = f"{builds['stegvis'][key] / hugo[key]:.2f}" if hugo else "–"
        lines.append(f"| {label} | {' | '.join(cells)} | {ratio} |")
        cells = [f"{builds[t][key + '_cpu']:.2f} s" if t in builds else "–" for t in ("stegvis", "hugo", "mkdocs", "bare")]
        ratio = f"{builds['stegvis'][key + '_cpu'] / hugo[key + '_cpu']:.2f}" if hugo else "–"
        lines.append(f"| {label}: CPU (user + system) | {' | '.join(cells)} | {ratio} |")
    lines += ["", "| serve: save → | Stegvis | hugo server | mkdocs serve |", "|---|---|---|---|"]
    s, h, m = serve.get("stegvis", {}), serve.get("hugo", {}), serve.get("mkdocs", {})

    def cell(d: dict, k: str) -> str:
        return f"{d[k]:.3f} s" if k in d else "–"

    lines.append(f"| reload event (SSE) | {cell(s, 'sse')} | – | – |")
    lines.append(f"| page shows the edit | {cell(s, 'page')} | {cell(h, 'page')} | {cell(m, 'page')} |")
    lines.append(f"| first build until served | {cell(s, 'first')} | {cell(h, 'first')} | {cell(m, 'first')} |")
    st = builds.get("stegvis", {})
    if hugo and st:
        lines += ["", "| goal (issue 16) | Stegvis | Hugo | ratio | goal | met |", "|---|---|---|---|---|---|"]
        for label, mine, theirs, goal in (
                ("cold HTML build", st["cold"], hugo["cold"], 1.5),
                ("one-step edit (`build`) vs Hugo's full build", st["edit"], hugo["cold"], 0.5)):
            ratio = mine / theirs
            lines.append(f"| {label} | {mine:.2f} s | {theirs:.2f} s | {ratio:.2f} | ≤ {goal} | "
                         f"{'yes' if ratio <= goal else 'no'} |")
        if "page" in s:
            lines.append(f"| serve: save → page, title edit | {s['page']:.3f} s | {cell(h, 'page')} | – | ≤ 0.3 s | "
                         f"{'yes' if s['page'] <= 0.3 else 'no'} |")
        lines.append(f"\nPeak RSS of the cold build (largest process): Stegvis {st['rss_kb'] / 1024:.0f} MB, "
                     f"Hugo {hugo['rss_kb'] / 1024:.0f} MB. Load average (1 min) before the runs: Stegvis "
                     f"{st['load_range'][0]:.2f}–{st['load_range'][1]:.2f}, Hugo "
                     f"{hugo['load_range'][0]:.2f}–{hugo['load_range'][1]:.2f}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 2000])
    parser.add_argument("--tools", nargs="+", default=["stegvis", "hugo", "mkdocs", "bare"])
    parser.add_argument("--mkdocs-serve-max", type=int, default=150)
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tools_present = [t for t in args.tools if t != "hugo" or shutil.which("hugo")]
    # Bytecode for this tree, as an installed wheel has it: with PYTHONDONTWRITEBYTECODE set (as on
    # the shared machine) every run would otherwise compile Stegvis' modules again (0.4 s).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "builder"), str(ROOT / "stegvis_package")],
                   check=True, stdout=subprocess.DEVNULL)
    report = {"versions": versions(), "runs": args.runs, "sizes": {}}
    print(json.dumps(report["versions"], indent=1), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="stegvis-bench-") as tmp:
        for size in args.sizes:
            work = Path(tmp) / f"s{size}"
            tools = Tools(generate(work / "src", size), work)
            print(f"{size} steps: builds", file=sys.stderr, flush=True)
            builds = bench_builds(tools, args.runs, tools_present)
            serve: dict[str, dict] = {}
            if not args.no_serve:
                print(f"{size} steps: serve", file=sys.stderr, flush=True)
                serve["stegvis"] = bench_stegvis_serve(tools, max(args.runs, 5))
                if "hugo" in tools_present:
                    serve["hugo"] = bench_peer_serve(tools, max(args.runs, 5), "hugo")
                if "mkdocs" in tools_present and size <= args.mkdocs_serve_max:
                    serve["mkdocs"] = bench_peer_serve(tools, args.runs, "mkdocs")
            report["sizes"][size] = {"builds": builds, "serve": serve}
            print(table(size, builds, serve) + "\n", flush=True)
        if args.profile:
            size = max(args.sizes)
            profile = stage_profile(Path(tmp) / f"s{size}" / "src" / "stegvis")
            report["profile"] = {"steps": size, "seconds": profile}
            print(f"### Profile, {size} steps (in process)\n\n| stage | seconds |\n|---|---|")
            for name, seconds in profile.items():
                print(f"| {name} | {seconds:.2f} |")
    report["loads"] = LOADS
    print(f"Load average (1 min) over the whole run: {min(LOADS):.2f}–{max(LOADS):.2f}, "
          f"median {median(LOADS):.2f}.")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
