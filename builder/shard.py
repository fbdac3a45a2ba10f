"""Sharded step work (issue 16): each worker parses, checks and renders its share of the steps.

Layer: above the stages and `builder.summaries`, below the pipeline (see DESIGN.md,
"Layers"). Input: a validated `Program` whose steps have lazy bodies, the summary store,
the codes the program silences, and the build settings. Output: every step's summary
applied to its body (`builder.summaries.apply_summary`), new summaries kept in the store,
and, for a build without audio, the pages and fragments the workers rendered.

Steps whose text was summarised before are not parsed at all. The others are split
between this process and `jobs - 1` forked children (`builder.render.parallel.Forked`),
which share the validated program copy-on-write and send back only bytes and summaries
(LIX, directives, link places, findings): parsed tokens never cross a process boundary
(pickling them costs more than parsing, bench/RESULTS.md). Each worker renders its steps
before the whole program is checked; when check finds errors those pages are dropped
with the rest. Diagnostics do not depend on who found them: the collector sorts them.
Must not write anything (the pipeline and the store do).
"""

from __future__ import annotations

from builder.config import BuildConfig
from builder.model import Module, Program, Step
from builder.render.chrome import chrome_for
from builder.render.html import render_step_pages
from builder.render.parallel import Forked, can_fork
from builder.render.storyboard import FilmPlan, film_plans
from builder.speech.lexicon import Lexicon
from builder.summaries import SummaryStore, apply_summary, content_key, summarise

#: With fewer steps than this to summarise, one process does them (a fork costs ~10 ms).
SHARD_STEPS = 64


def _films(program: Program, config: BuildConfig) -> dict[str, FilmPlan]:
    """The films as the HTML of a build without audio shows them (as `builder.pipeline.program_films`)."""
    if not program.films:
        return {}
    return film_plans(program, Lexicon.for_program(program.lexicon, program.meta.language),
                      chrome=chrome_for(config.templates, program.meta.language))


def _work(program: Program, share: list[tuple[Module, Step]], silenced: frozenset[str],
          render: BuildConfig | None) -> tuple[dict[str, dict], dict[str, tuple[bytes, list[str]]]]:
    """One worker's share: the summaries of its steps (by key) and, with `render`, their pages."""
    summaries = {content_key(step): summarise(program, module, step, silenced) for module, step in share}
    pages = render_step_pages(program, render, [step for _, step in share], _films(program, render)) if render else {}
    return summaries, pages


def summarise_steps(program: Program, store: SummaryStore, silenced: frozenset[str], jobs: int = 1,
                    render: BuildConfig | None = None) -> dict[str, tuple[bytes, list[str]]]:
    """Apply every step's summary (from the store, or made now) and return the pages rendered meanwhile.

    `render`: the settings of a build without audio, whose workers then render their steps'
    pages too (only when the work is sharded: in one process a page is rendered after check).
    """
    missing: list[tuple[Module, Step]] = []
    for module in program.modules:
        for step in module.steps:
            summary = store.get(content_key(step))
            if summary is not None:
                apply_summary(program, step, summary, silenced)
            else:
                missing.append((module, step))
    if not missing:
        return {}
    if jobs < 2 or len(missing) < SHARD_STEPS or not can_fork():
        summaries, pages = _work(program, missing, silenced, None)
        for key, summary in summaries.items():
            store.put(key, summary)
        return pages
    shares = [missing[i::jobs] for i in range(jobs)]  # interleaved: neighbouring steps cost about the same
    children = [Forked(_work, program, share, silenced, render) for share in shares[1:]]
    results = [_work(program, shares[0], silenced, render)] + [child.result() for child in children]
    pages: dict[str, tuple[bytes, list[str]]] = {}
    by_key = {content_key(step): step for _, step in missing}
    for summaries, rendered in results:
        for key, summary in summaries.items():
            store.put(key, summary)
            step = by_key[key]
            if not step.body.parsed:  # this process's own share has its findings already
                apply_summary(program, step, summary, silenced)
        pages.update(rendered)
    return pages
