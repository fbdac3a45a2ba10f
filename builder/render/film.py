"""Stage 6b, films: an MP4 and its captions from each storyboard, with the readouts' voice.

Input: the `FilmPlan`s of `builder.render.storyboard` (with a voice and an encoder), the
engine and the build's cache folder. Output: `FilmResult` with the files (package path ->
bytes: the MP4 and its WebVTT captions) and which voice and encoder made each film.

A film is a still per scene with a gentle cross-fade between scenes. Each scene lasts a
short lead-in, its narration and a short pause, rounded up to whole frames; the sentences
are synthesised alone (through the readouts' sentence cache, so a sentence said in a
readout too is synthesised once), joined and normalised like a readout, and every cue's
time is the real sample count before it. ffmpeg renders each picture to a still (SVG
through its librsvg decoder: no extra package), then encodes H.264 (yuv420p) and AAC into
an MP4 with its index first (faststart). Builds are deterministic: one encoder thread,
bit-exact flags, no metadata, timestamps from frame counts. The cache is content-addressed
by the plan's digest (sentences, pictures' bytes, voice, encoder and settings), so an
unchanged film is never encoded twice.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from builder.progress import NO_PROGRESS, Progress
from builder.render.audio import SentenceCache, _store, voice_sentences, write_vtt
from builder.render.storyboard import FilmEncoder, FilmError, FilmPlan
from builder.speech.engines import Engine
from builder.speech.pcm import Pcm, normalise, resample, silence, write_wav

#: Silence before a scene's first sentence (the new picture fades in meanwhile) and after its last.
LEAD_MS = 900
TAIL_MS = 700
#: The cross-fade between two scenes, centred on the cut, and the fade from and to black.
CROSSFADE_S = Fraction(4, 5)
EDGE_FADE_S = 0.5
#: The colour around a picture whose shape is not 16:9.
BACKGROUND = "0xf4f3ef"
FFMPEG_TIMEOUT_S = 900


@dataclass
class FilmResult:
    files: dict[str, bytes] = field(default_factory=dict)
    provenance: dict[str, dict[str, str]] = field(default_factory=dict)  # mp4 path -> voice and encoder
    encoded: int = 0
    cached: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # mp4 path -> length of the film


@dataclass
class Timeline:
    """A film's sound, the length of each scene in frames, and its cues (id, start, end, text)."""

    samples: np.ndarray
    rate: int
    frames: list[int]
    cues: list[tuple[str, float, float, str]]

    @property
    def total_frames(self) -> int:
        return sum(self.frames)


def assemble(plan: FilmPlan, voices: dict[str, Pcm], fps: int) -> Timeline:
    """Join every scene's sentences with their pauses; pad each scene to whole frames."""
    rate = max(voices[s.spoken].rate for s in plan.sentences)
    chunks: list[np.ndarray] = []
    cues, frames, position = [], [], 0
    for scene in plan.scenes:
        start_of_scene = position
        for i, sentence in enumerate(scene.sentences):
            gap = silence(rate, LEAD_MS if i == 0 else sentence.pause_ms)
            pcm = resample(voices[sentence.spoken], rate).samples
            chunks += [gap, pcm]
            start = position + len(gap)
            position = start + len(pcm)
            cues.append((sentence.id, start / rate, position / rate, sentence.text))
        scene_end = position + len(silence(rate, TAIL_MS))
        # Whole frames, the scene's end on the frame grid counted from the film's start (no drift).
        done = sum(frames)
        frames.append(-(-(scene_end - start_of_scene) * fps // rate))  # ceil
        end = (Fraction(done + frames[-1], fps) * rate).__ceil__()
        chunks.append(np.zeros(max(0, end - position), dtype=np.int16))
        position = end
    samples = normalise(np.concatenate(chunks))
    total = (Fraction(sum(frames), fps) * rate).__ceil__()
    samples = np.concatenate([samples, np.zeros(max(0, total - len(samples)), dtype=np.int16)])[:total]
    if cues and cues[-1][2] > total / rate:
        raise RuntimeError("captions outlast the film")  # a bug in the timeline above
    return Timeline(samples, rate, frames, cues)


def _run(args: list[str], what: str) -> None:
    try:
        subprocess.run(args, capture_output=True, check=True, timeout=FFMPEG_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        tail = exc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise FilmError(f"ffmpeg kunde inte {what}: {' '.join(tail)}") from exc
    except subprocess.TimeoutExpired as exc:
        raise FilmError(f"ffmpeg blev inte klar med att {what} på {FFMPEG_TIMEOUT_S} s.") from exc


FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def render_still(image: Path, out: Path, enc: FilmEncoder) -> None:
    """One picture as a still of the film's size: fitted, centred, on the background colour."""
    decoder = ["-c:v", "librsvg", "-height", str(enc.height)] if image.suffix.lower() == ".svg" else []
    graph = (f"[0:v]scale={enc.width}:{enc.height}:force_original_aspect_ratio=decrease:flags=lanczos[pic];"
             f"color=c={BACKGROUND}:s={enc.width}x{enc.height}[bg];"
             f"[bg][pic]overlay=x=(W-w)/2:y=(H-h)/2:format=auto:shortest=1,format=rgb24")
    _run([*FFMPEG, *decoder, "-i", str(image), "-filter_complex", graph, "-frames:v", "1", "-f", "image2",
          "-c:v", "png", str(out)], f"visa bilden {image.name}")


def film_graph(frames: list[int], enc: FilmEncoder) -> str:
    """The filter graph: each still repeated for its scene (and half a cross-fade on each side),
    cross-faded at the cuts, faded from and to black at the ends."""
    fade = int(CROSSFADE_S * enc.fps) // 2 * 2
    half = fade // 2
    n = len(frames)
    parts = []
    for i, f in enumerate(frames):
        length = f + (half if i == 0 else 0) + (half if i == n - 1 else 0) + (fade if 0 < i < n - 1 else 0)
        if n == 1:
            length = f
        parts.append(f"[{i}:v]format=yuv420p,setsar=1,loop=loop={length - 1}:size=1:start=0,"
                     f"setpts=N/{enc.fps}/TB[v{i}]")
    last, elapsed = "v0", 0
    for i in range(1, n):
        elapsed += frames[i - 1]
        offset = Fraction(elapsed - half, enc.fps)
        parts.append(f"[{last}][v{i}]xfade=transition=fade:duration={float(Fraction(fade, enc.fps)):.6f}"
                     f":offset={float(offset):.6f}[x{i}]")
        last = f"x{i}"
    total = Fraction(sum(frames), enc.fps)
    parts.append(f"[{last}]fade=t=in:st=0:d={EDGE_FADE_S},"
                 f"fade=t=out:st={float(total) - EDGE_FADE_S:.6f}:d={EDGE_FADE_S}[film]")
    return ";".join(parts)


def encode_film(plan: FilmPlan, timeline: Timeline, stills: list[Path], work: Path) -> bytes:
    """The MP4 of a film from its stills and its sound (deterministic)."""
    enc = plan.encoder
    assert enc is not None
    wav = work / "narration.wav"
    wav.write_bytes(write_wav(Pcm(timeline.samples, timeline.rate)))
    out = work / "film.mp4"
    inputs = [arg for still in stills for arg in ("-i", str(still))]
    total = Fraction(timeline.total_frames, enc.fps)
    _run([*FFMPEG, "-filter_complex_threads", "1", *inputs, "-i", str(wav),
          "-filter_complex", film_graph(timeline.frames, enc),
          "-map", "[film]", "-map", f"{len(stills)}:a",
          "-r", str(enc.fps), "-c:v", "libx264", "-preset", enc.preset, "-tune", "stillimage", "-crf", str(enc.crf),
          "-pix_fmt", "yuv420p", "-g", str(enc.fps * 10), "-threads", "1",
          "-c:a", "aac", "-b:a", f"{enc.audio_kbps}k", "-ac", "1", "-ar", str(enc.audio_rate),
          "-t", f"{float(total):.6f}",
          "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
          "-metadata:s:a:0", "language=swe", "-movflags", "+faststart", str(out)], "koda filmen")
    return out.read_bytes()


def make_film(plan: FilmPlan, voices: dict[str, Pcm], media: dict[str, Path]) -> tuple[bytes, bytes, float]:
    """The MP4 and captions of one film, and its length in seconds."""
    enc = plan.encoder
    assert enc is not None
    timeline = assemble(plan, voices, enc.fps)
    with tempfile.TemporaryDirectory(prefix="stegvis-film-") as tmp:
        work = Path(tmp)
        rendered: dict[str, Path] = {}
        stills = []
        for i, scene in enumerate(plan.scenes):
            if scene.image not in rendered:
                rendered[scene.image] = work / f"still{i}.png"
                render_still(media[scene.image], rendered[scene.image], enc)
            stills.append(rendered[scene.image])
        mp4 = encode_film(plan, timeline, stills, work)
    return mp4, write_vtt(timeline.cues), timeline.total_frames / enc.fps


def render_films(plans: dict[str, FilmPlan], engine: Engine, media: dict[str, Path], cache_root: Path,
                 jobs: int = 1, progress: Progress = NO_PROGRESS) -> FilmResult:
    """Every film's MP4 and captions: from the cache when made before, else synthesised and encoded.

    `media`: path inside media/ -> the file (the pictures). Raises FilmError when ffmpeg fails.
    """
    result = FilmResult()
    films_dir = cache_root / "film"
    todo = []
    for plan in plans.values():
        if plan.digest is None or plan.mp4 is None or plan.vtt is None:
            continue
        folder = films_dir / plan.digest[:2]
        try:
            mp4 = (folder / f"{plan.digest}.mp4").read_bytes()
            vtt = (folder / f"{plan.digest}.vtt").read_bytes()
        except OSError:
            todo.append(plan)
            continue
        result.files[plan.mp4], result.files[plan.vtt] = mp4, vtt
        result.cached += 1
    if not todo:
        return _with_provenance(result, plans)

    cache = SentenceCache(cache_root, engine)
    voices, _ = voice_sentences({s.spoken for plan in todo for s in plan.sentences}, engine, cache, jobs)
    progress.start("Filmer", len(todo))
    for plan in todo:
        assert plan.digest is not None and plan.mp4 is not None and plan.vtt is not None
        started = time.perf_counter()
        mp4, vtt, _ = make_film(plan, voices, media)
        result.seconds[plan.mp4] = round(time.perf_counter() - started, 1)
        folder = films_dir / plan.digest[:2]
        _store(folder / f"{plan.digest}.mp4", mp4)
        _store(folder / f"{plan.digest}.vtt", vtt)
        result.files[plan.mp4], result.files[plan.vtt] = mp4, vtt
        result.encoded += 1
        progress.advance()
    progress.done()
    return _with_provenance(result, plans)


def _with_provenance(result: FilmResult, plans: dict[str, FilmPlan]) -> FilmResult:
    for plan in plans.values():
        if plan.mp4 in result.files and plan.voice is not None and plan.encoder is not None:
            result.provenance[plan.mp4] = plan.voice | plan.encoder.identity()
    return result
