"""Stage 6, audio: one MP3 per step and a WebVTT file whose cues are its sentences.

Input: the `Readout` of every step that is read aloud, an engine and the build
config. Output: `AudioResult` with the files (package path -> bytes), which
engine made each MP3, and how many sentences were synthesised or taken from the
cache. Each sentence is synthesised on its own (in parallel), trimmed, joined
with pauses, the whole step normalised to one loudness, and encoded once; cue
offsets are the real sample counts. The cache is content-addressed by engine
identity and spoken text, so an unchanged sentence is never synthesised twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder.model import Step
from builder.paths import audio_paths
from builder.progress import NO_PROGRESS, Progress
from builder.render.readout import Readout
from builder.speech.captions import vtt_timestamp
from builder.speech.engines import Engine
from builder.speech.pcm import (
    MP3_BITRATE_KBPS,
    MP3_QUALITY,
    Pcm,
    encode_mp3,
    normalise,
    read_wav,
    resample,
    silence,
    trim,
    write_wav,
)


@dataclass
class AudioResult:
    files: dict[str, bytes] = field(default_factory=dict)
    provenance: dict[str, dict[str, str]] = field(default_factory=dict)  # mp3 path -> engine identity
    synthesized: int = 0  # distinct sentences synthesised in this build
    cached: int = 0  # distinct sentences whose audio came from the cache


class SentenceCache:
    """Trimmed PCM of synthesised sentences, one WAV file per (engine identity, spoken text)."""

    def __init__(self, root: Path, engine: Engine) -> None:
        self.identity = engine.identity()
        self.dir = root / "audio" / engine.name

    def key(self, spoken: str) -> str:
        return hashlib.sha256(json.dumps([self.identity, spoken], ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def path(self, spoken: str) -> Path:
        key = self.key(spoken)
        return self.dir / key[:2] / f"{key}.wav"

    def get(self, spoken: str) -> Pcm | None:
        path = self.path(spoken)
        try:
            return read_wav(path.read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, spoken: str, pcm: Pcm) -> None:
        _store(self.path(spoken), write_wav(pcm))


#: Bump when the cue file layout changes, so cached steps are rebuilt.
CUE_FORMAT = 1


def _cue_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "→")


def write_vtt(cues: list[tuple[str, float, float, str]]) -> bytes:
    """A WebVTT file from (id, start, end, text) cues."""
    lines = ["WEBVTT", ""]
    for cue_id, start, end, text in cues:
        lines += [cue_id, f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}", _cue_text(text), ""]
    return "\n".join(lines).encode("utf-8")


def _assemble(parts: list[tuple[str, str, int, Pcm]]) -> tuple[np.ndarray, int, list[tuple[str, float, float, str]]]:
    """Join (id, text, pause_ms, pcm) sentences with their pauses; cues from real sample counts."""
    rate = max(pcm.rate for *_, pcm in parts)
    chunks, cues, position = [], [], 0
    for sentence_id, text, pause_ms, pcm in parts:
        samples = resample(pcm, rate).samples
        gap = silence(rate, pause_ms)
        chunks += [gap, samples]
        start = position + len(gap)
        end = start + len(samples)
        cues.append((sentence_id, start / rate, end / rate, text))
        position = end
    return normalise(np.concatenate(chunks)), rate, cues


def render_step_audio(parts: list[tuple[str, str, int, Pcm]]) -> tuple[bytes, bytes]:
    """The MP3 and WebVTT of one step (runs in a worker process)."""
    samples, rate, cues = _assemble(parts)
    return encode_mp3(samples, rate), write_vtt(cues)


def _step_key(identity: dict[str, str], readout: Readout) -> str:
    """Cache key of a whole step's MP3 and cues: engine, sentences, pauses and encoder settings."""
    parts = [identity, [MP3_BITRATE_KBPS, MP3_QUALITY, CUE_FORMAT],
             [(s.id, s.text, s.spoken, s.pause_ms) for s in readout.sentences]]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def voice_sentences(wanted: set[str], engine: Engine, cache: SentenceCache, jobs: int,
                    progress: Progress = NO_PROGRESS) -> tuple[dict[str, Pcm], int]:
    """Trimmed PCM of every spoken sentence: from the sentence cache, or synthesised (in `jobs`
    threads) and cached. Returns the voices and how many were synthesised. Shared by readouts
    and films, so a sentence said in both is synthesised once."""
    voices: dict[str, Pcm] = {}
    missing = []
    for spoken in sorted(wanted):
        pcm = cache.get(spoken)
        if pcm is None:
            missing.append(spoken)
        else:
            voices[spoken] = pcm

    def synthesize(spoken: str) -> tuple[str, Pcm]:
        pcm = trim(engine.synthesize(spoken))
        cache.put(spoken, pcm)
        return spoken, pcm

    progress.start("Meningar", len(missing))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for spoken, pcm in pool.map(synthesize, missing):
            voices[spoken] = pcm
            progress.advance()
    progress.done()
    return voices, len(missing)


def render_audio(readouts: dict[Step, Readout], engine: Engine, cache_root: Path, jobs: int,
                 progress: Progress = NO_PROGRESS) -> AudioResult:
    """Synthesise what the cache lacks, then build every step's MP3 and cues.

    Two cache levels: a step whose sentences, pauses and engine are unchanged reuses
    its MP3 and cues; otherwise each of its sentences comes from the sentence cache
    or is synthesised. LAME holds the GIL, so steps are encoded in processes.
    """
    cache = SentenceCache(cache_root, engine)
    steps_dir = cache.dir / "steps"
    result = AudioResult()
    identity = engine.identity()
    todo: list[tuple[Step, Readout, str]] = []
    for step, readout in readouts.items():
        if not readout.sentences:
            continue
        key = _step_key(identity, readout)
        mp3_path, vtt_path = audio_paths(step)
        try:
            mp3 = (steps_dir / key[:2] / f"{key}.mp3").read_bytes()
            vtt = (steps_dir / key[:2] / f"{key}.vtt").read_bytes()
        except OSError:
            todo.append((step, readout, key))
            continue
        result.files[mp3_path], result.files[vtt_path] = mp3, vtt
        result.provenance[mp3_path] = identity

    voices, synthesized = voice_sentences({s.spoken for _, r, _ in todo for s in r.sentences}, engine, cache,
                                          jobs, progress)
    # Counted in distinct sentences: a sentence said in two steps is synthesised once.
    result.synthesized = synthesized
    result.cached = len({s.spoken for r in readouts.values() for s in r.sentences}) - synthesized

    work = [[(s.id, s.text, s.pause_ms, voices[s.spoken]) for s in readout.sentences] for _, readout, _ in todo]
    progress.start("Ljudfiler", len(work))
    with ProcessPoolExecutor(max_workers=max(1, jobs)) if len(work) > 1 and jobs > 1 else _Inline() as pool:
        for (step, _, key), (mp3, vtt) in zip(todo, pool.map(render_step_audio, work), strict=True):
            mp3_path, vtt_path = audio_paths(step)
            result.files[mp3_path], result.files[vtt_path] = mp3, vtt
            result.provenance[mp3_path] = identity
            _store(steps_dir / key[:2] / f"{key}.mp3", mp3)
            _store(steps_dir / key[:2] / f"{key}.vtt", vtt)
            progress.advance()
    progress.done()
    return result


class _Inline:
    """A stand-in for an executor that maps in this process (one job, or one step)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def map(fn, *iterables):
        return map(fn, *iterables)


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
