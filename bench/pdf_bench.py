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
from builder.pipeline import check_dir  # noqa: E402
from builder.render.pdf import Forked, PdfStage, fragment_pages, render_pdfs  # noqa: E402
from builder.render.pdf_html import PdfSpec  # noqa: E402
from builder.validate import Program  # noqa: E402


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


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", nargs="?", type=Path, default=ROOT / "content")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    program = load(args.program)
    tmp = Path(tempfile.mkdtemp(prefix="stegvis-pdf-bench-"))
    try:
        program_alone(program, tmp)  # warm up fontconfig, imports and caches
        figures: dict[str, object] = {"steps": len(program.steps), "modules": len(program.modules), "runs": args.runs}
        alone = [program_alone(program, tmp) for _ in range(args.runs)]
        figures["pages"] = alone[0]["pages"]
        figures["program PDF alone"] = statistics.median(a["total"] for a in alone)
        figures["program PDF alone: layout"] = statistics.median(a["layout"] for a in alone)
        figures["program PDF alone: write"] = statistics.median(a["write"] for a in alone)
        figures["runs: program PDF alone"] = [a["total"] for a in alone]
        for label, fn in (
            ("whole set, 1 process", lambda: whole_set(program, tmp, 1)),
            (f"whole set, {args.jobs} processes", lambda: whole_set(program, tmp, args.jobs)),
            ("naive per-step, 1 process", lambda: naive_steps(program, tmp, 1)),
            (f"naive per-step, {args.jobs} processes", lambda: naive_steps(program, tmp, args.jobs)),
        ):
            figures[label], figures[f"runs: {label}"] = median_of(args.runs, fn)
        reb = [rebuilds(args.program, tmp, args.jobs) for _ in range(args.runs)]
        for key in reb[0]:
            figures[key] = statistics.median(r[key] for r in reb)
        figures["runs: one-step rebuild"] = [r["one-step rebuild"] for r in reb]
        figures["components (1 process, one run)"] = components(program, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ref = figures["program PDF alone"]
    print(f"{args.program}: {figures['steps']} steps, {figures['modules']} modules, {figures['pages']} pages; "
          f"median of {args.runs} runs; {args.jobs} processes where parallel")
    for key, value in figures.items():
        if key.startswith("runs:") or key in ("steps", "modules", "pages", "runs"):
            continue
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k:48} {v:7.2f} s")
        elif isinstance(value, float):
            print(f"{key:50} {value:7.2f} s   {value / ref:5.2f}x the program PDF alone")
        else:
            print(f"{key:50} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
