"""Benchmark of the pdf stage (issue #5); not a test.

Measures, on a real program (default: content/, FRAMÅT), the median of several runs of:

- the program PDF alone (lay out the program book, write one PDF), the reference;
- the whole PDF set (steps, modules, program, guide, brochure) in one process and in
  `--jobs` processes, with an empty cache;
- naive per-step rendering: every step laid out and written as its own document, in
  one process and in `--jobs` processes;
- an incremental rebuild after one changed step, and a rebuild with no change.

Usage: .venv/bin/python bench/pdf_bench.py [PROGRAM_DIR] [--runs 3] [--jobs 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.config import BuildConfig  # noqa: E402
from builder.diagnostics import Diagnostics  # noqa: E402
from builder.model import Program  # noqa: E402
from builder.pipeline import check_dir  # noqa: E402
from builder.render.pdf import Forked, PdfStage, fragment_pages, render_pdfs  # noqa: E402
from builder.render.pdf_html import PdfSpec  # noqa: E402


def load(program_dir: Path) -> Program:
    diags = Diagnostics()
    program = check_dir(program_dir, diags)
    if program is None:
        sys.exit(f"{program_dir} does not check: {diags.items[:3]}")
    return program


def config(tmp: Path, jobs: int, cache: str = "cache") -> BuildConfig:
    return BuildConfig(out=tmp / "dist", cache=tmp / cache, jobs=jobs, audio=False, source_date_epoch=1700000000)


def program_alone(program: Program, tmp: Path) -> dict[str, float]:
    """Lay out the program book and write only the program PDF (one process)."""
    stage = PdfStage(program, config(tmp, 1))
    t0 = time.perf_counter()
    document = stage.printer.layout(stage.book)
    t1 = time.perf_counter()
    spec = stage.book.outputs[-1]
    stage.printer.write(document, stage.book, spec, 0, len(document.pages))
    t2 = time.perf_counter()
    return {"total": t2 - t0, "layout": t1 - t0, "write": t2 - t1, "pages": len(document.pages)}


def components(program: Program, tmp: Path) -> dict[str, float]:
    """Where the time of the whole set goes, in one process."""
    stage = PdfStage(program, config(tmp, 1))
    out = {}
    t = time.perf_counter()
    stage.printer.render_whole(stage.singles)
    out["guide and brochure (layout and write)"] = time.perf_counter() - t
    t = time.perf_counter()
    document = stage.printer.layout(stage.book)
    out["book layout"] = time.perf_counter() - t
    starts = fragment_pages(document, stage.book)
    groups: dict[str, list[PdfSpec]] = {"program": [], "modules": [], "steps": []}
    for spec in stage.book.outputs:
        kind = "program" if spec.first == 0 else ("steps" if spec.first == spec.last else "modules")
        groups[kind].append(spec)
    for kind, specs in groups.items():
        t = time.perf_counter()
        for spec in specs:
            stage.printer.write(document, stage.book, spec, starts[spec.first], starts[spec.last + 1])
        out[f"write {kind} ({len(specs)})"] = time.perf_counter() - t
    return out


def whole_set(program: Program, tmp: Path, jobs: int) -> float:
    shutil.rmtree(tmp / "cache", ignore_errors=True)
    t = time.perf_counter()
    result = render_pdfs(program, config(tmp, jobs))
    elapsed = time.perf_counter() - t
    assert not result.cached, "the cache was not empty"
    return elapsed


def naive_steps(program: Program, tmp: Path, jobs: int) -> float:
    """Every step as its own HTML document: laid out and written one by one."""
    stage = PdfStage(program, config(tmp, jobs))
    book = stage.book
    docs = [dataclasses.replace(book, fragments=(book.fragments[s.first],),
                                outputs=(dataclasses.replace(s, first=0, last=0),))
            for s in book.outputs if s.first == s.last]
    t = time.perf_counter()
    if jobs > 1:
        shares = [docs[i::jobs] for i in range(jobs)]
        workers = [Forked(stage.printer.render_whole, share) for share in shares[1:]]
        stage.printer.render_whole(shares[0])
        for w in workers:
            w.result()
    else:
        stage.printer.render_whole(docs)
    return time.perf_counter() - t


def rebuilds(program_dir: Path, tmp: Path, jobs: int) -> dict[str, float]:
    """Warm cache; then a rebuild without change, and one after editing a step in the middle."""
    src = tmp / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(program_dir, src)
    shutil.rmtree(tmp / "warm", ignore_errors=True)
    render_pdfs(load(src), config(tmp, jobs, "warm"))
    t = time.perf_counter()
    same = render_pdfs(load(src), config(tmp, jobs, "warm"))
    zero = time.perf_counter() - t
    assert not same.rendered, same.rendered
    program = load(src)
    step = program.steps[len(program.steps) // 2]
    step.file.write_text(step.file.read_text("utf-8") + "\nEn mening till för mätningen.\n", "utf-8")
    t = time.perf_counter()
    changed = render_pdfs(load(src), config(tmp, jobs, "warm"))
    one = time.perf_counter() - t
    return {"zero-change rebuild": zero, "one-step rebuild": one, "rendered after one change": len(changed.rendered),
            "from cache after one change": len(changed.cached)}


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (forked workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def _burn() -> float:
    t = time.perf_counter()
    total = 0
    for i in range(6_000_000):
        total += i
    return time.perf_counter() - t


def parallelism(jobs: int) -> float:
    """How many cores this machine gives right now: `jobs` busy processes against one.

    The machine may be shared (other builds, a validator on Java): a figure well below
    `jobs` means the parallel timings of that round were taken on a busy machine.
    """
    one = _burn()
    t = time.perf_counter()
    workers = [Forked(_burn) for _ in range(jobs - 1)]
    _burn()
    for w in workers:
        w.result()
    return jobs * one / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", nargs="?", type=Path, default=ROOT / "content")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    program = load(args.program)
    tmp = Path(tempfile.mkdtemp(prefix="stegvis-pdf-bench-"))
    jobs = args.jobs
    measures: dict[str, Callable[[], object]] = {
        "program PDF alone": lambda: program_alone(program, tmp),
        "whole set, 1 process": lambda: whole_set(program, tmp, 1),
        f"whole set, {jobs} processes": lambda: whole_set(program, tmp, jobs),
        "naive per-step, 1 process": lambda: naive_steps(program, tmp, 1),
        f"naive per-step, {jobs} processes": lambda: naive_steps(program, tmp, jobs),
    }
    wall: dict[str, list[float]] = {k: [] for k in measures}
    cpu: dict[str, list[float]] = {k: [] for k in measures}
    cores, rebuilt = [], []
    try:
        program_alone(program, tmp)  # warm up fontconfig, imports and caches
        for _ in range(args.runs):  # rounds interleave the measures, so a busy spell hits them alike
            cores.append(parallelism(jobs))
            for label, fn in measures.items():
                w, c = timed(fn)
                wall[label].append(w)
                cpu[label].append(c)
            rebuilt.append(rebuilds(args.program, tmp, jobs))
            cores.append(parallelism(jobs))
        layout = program_alone(program, tmp)
        parts = components(program, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in wall.items()}
    ref = med["program PDF alone"]
    print(f"{args.program}: {len(program.steps)} steps, {len(program.modules)} modules, {layout['pages']} pages; "
          f"median of {args.runs} rounds; cores available during the rounds: "
          + ", ".join(f"{c:.1f}" for c in cores))
    print(f"{'':44} {'wall':>8} {'ratio':>7} {'CPU':>8}   runs (wall)")
    for label in measures:
        runs = ", ".join(f"{v:.1f}" for v in wall[label])
        print(f"{label:44} {med[label]:7.2f}s {med[label] / ref:6.2f}x {statistics.median(cpu[label]):7.2f}s   {runs}")
    for key in rebuilt[0]:
        value = statistics.median(r[key] for r in rebuilt)
        runs = ", ".join(f"{r[key]:.1f}" for r in rebuilt)
        if isinstance(rebuilt[0][key], float):
            print(f"{key:44} {value:7.2f}s {value / ref:6.2f}x {'':8}   {runs}")
        else:
            print(f"{key:44} {value:8}")
    print(f"program PDF alone, one more run: layout {layout['layout']:.2f}s, write {layout['write']:.2f}s")
    print("where the time of the whole set goes (1 process, one run):")
    for key, value in parts.items():
        print(f"  {key:42} {value:7.2f}s")
    if args.json:
        data = {"wall": wall, "cpu": cpu, "cores": cores, "rebuilds": rebuilt, "program alone": layout,
                "components": parts}
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
