"""Benchmark of the audio stage on the whole FRAMÅT program (issue #4).

Measures, as medians of --runs runs:
- cold: empty cache, every sentence synthesised by espeak-ng and every step encoded;
- warm: nothing changed (every step's MP3 and cues from the cache);
- one sentence edited: one step re-assembled and re-encoded, one sentence synthesised;
- peer: the usual way without cues, one espeak-ng call per step for its whole text,
  then the same MP3 encoding (what a plain "text to MP3" build costs).
Both with 1 and 2 jobs where it matters.

    .venv/bin/python bench/audio_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.diagnostics import Diagnostics  # noqa: E402
from builder.pipeline import check_dir  # noqa: E402
from builder.render.audio import render_audio  # noqa: E402
from builder.render.readout import build_readout  # noqa: E402
from builder.speech.engines import EspeakEngine  # noqa: E402
from builder.speech.lexicon import Lexicon  # noqa: E402
from builder.speech.pcm import encode_mp3, normalise, read_wav  # noqa: E402


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def peer(readouts, engine: EspeakEngine, jobs: int) -> None:
    """One espeak-ng process per step for all of its text; no sentence cues."""

    def one(readout):
        text = " ".join(s.spoken for s in readout.sentences)
        out = subprocess.run([engine.executable, "-v", engine.voice, "-s", str(engine.speed), "--stdout", "--stdin"],
                             input=text.encode(), capture_output=True, check=True)
        pcm = read_wav(out.stdout)
        return encode_mp3(normalise(pcm.samples), pcm.rate)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, readouts.values()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    program = check_dir(ROOT / "content", Diagnostics())
    lexicon = Lexicon.for_program(program.meta.lexicon)
    readouts = {s: build_readout(s, lexicon) for s in program.steps if s.meta.audio}
    n_sentences = len({s.spoken for r in readouts.values() for s in r.sentences})
    n_words = sum(len(s.text.split()) for r in readouts.values() for s in r.sentences)
    engine = EspeakEngine()
    results: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for jobs in (1, 2):
            with tempfile.TemporaryDirectory() as cache:
                results.setdefault(f"cold, {jobs} job(s)", []).append(
                    timed(render_audio, readouts, engine, Path(cache), jobs))
                results.setdefault(f"warm, nothing changed, {jobs} job(s)", []).append(
                    timed(render_audio, readouts, engine, Path(cache), jobs))
                step = next(iter(readouts))
                edited = dict(readouts)
                first = edited[step].sentences[1]
                edited[step] = replace(edited[step], sentences=[
                    replace(s, text=s.text + " Nu.", spoken=s.spoken + " Nu.") if s is first else s
                    for s in edited[step].sentences])
                results.setdefault(f"one sentence edited, {jobs} job(s)", []).append(
                    timed(render_audio, edited, engine, Path(cache), jobs))
            results.setdefault(f"peer: one espeak-ng call per step, no cues, {jobs} job(s)", []).append(
                timed(peer, readouts, engine, jobs))
    print(f"FRAMÅT: {len(readouts)} steps read aloud, {n_sentences} distinct sentences, {n_words} words; "
          f"median of {args.runs} runs\n")
    print("| case | median s | runs |")
    print("|---|---:|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    cold = statistics.median(results["cold, 2 job(s)"])
    warm = statistics.median(results["warm, nothing changed, 2 job(s)"])
    print(f"\nsentences synthesised per second (cold, 2 jobs, including encoding): {n_sentences / cold:.0f}")
    print(f"warm/cold ratio (2 jobs): {warm / cold:.3f}")


if __name__ == "__main__":
    main()
