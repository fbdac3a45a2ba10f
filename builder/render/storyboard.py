"""What a film made from a storyboard will be: its scenes, sentences, cache key and package paths.

Input: the program's validated storyboards (`Program.films`), its lexicon, and, when the
build has a voice, the engine's identity and the encoder's (`FilmEncoder`). Output: a
`FilmPlan` per storyboard, which the page renderer links (a player, captions, the
transcript) and `builder.render.film` encodes. Light on purpose: no numpy, no encoding,
so pages can be rendered (and a `--no-audio` build can show the transcript) without them.

The film's files are named by a digest of everything that makes their bytes (the
sentences, the pictures' bytes, the voice, the encoder and its settings), so a changed
voice or picture gives a new name and no cache ever serves a stale film. The transcript
is named by its own text. Must not run the voice or ffmpeg's encoder.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

from builder.hashing import digest, sha256
from builder.model import Program
from builder.render.chrome import SWEDISH, Chrome
from builder.render.readout import PAUSE_IN_BLOCK_MS, PAUSE_NEW_BLOCK_MS, Sentence
from builder.speech.lexicon import Lexicon
from builder.speech.sentences import split_sentences

#: Bump when the film's layout (timing, filters, cue file) changes, so cached films are made again.
FILM_FORMAT = 1


class FilmError(Exception):
    """A film cannot be made here (ffmpeg missing) or ffmpeg failed: `stegvis build` exits 2 with the message."""


@dataclass(frozen=True)
class FilmEncoder:
    """How films are encoded: ffmpeg's version and every setting that changes the bytes."""

    ffmpeg: str  # `ffmpeg -version`'s first line
    height: int = 540  # 960x540: sharp enough for flat illustrations, quick to encode
    fps: int = 25
    crf: int = 28  # x264 quality; stills compress well
    preset: str = "veryfast"  # as small as `medium` for stills, and twice as fast
    audio_kbps: int = 64  # AAC, mono
    audio_rate: int = 48000

    @property
    def width(self) -> int:
        """16:9, rounded to an even number (yuv420p needs even sizes)."""
        return (self.height * 16 // 9 + 1) // 2 * 2

    def identity(self) -> dict[str, str]:
        return {"encoder": self.ffmpeg, "size": f"{self.width}x{self.height}", "fps": str(self.fps),
                "video": f"h264 {self.preset} crf {self.crf}", "audio": f"aac {self.audio_kbps}k {self.audio_rate} Hz"}


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """`ffmpeg -version`'s first line; FilmError when ffmpeg is not installed."""
    executable = shutil.which("ffmpeg")
    if not executable:
        raise FilmError("ffmpeg är inte installerat, så filmer från manus kan inte göras (Debian-paketet ffmpeg; "
                        "`make build` installerar det).")
    out = subprocess.run([executable, "-version"], capture_output=True, text=True, timeout=10)
    return out.stdout.split("\n", 1)[0].split(" Copyright")[0].strip() or "ffmpeg"


def film_encoder(height: int) -> FilmEncoder:
    """The encoder of this machine at a frame height (FilmError without ffmpeg)."""
    return FilmEncoder(ffmpeg=ffmpeg_version(), height=height)


@dataclass(frozen=True)
class FilmScene:
    image: str  # path inside media/
    alt: str
    narration: str  # white space folded
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class FilmPlan:
    """One film: its scenes and where its files land. `mp4`/`vtt` are None without a voice."""

    key: str  # the storyboard's path inside media/
    title: str
    scenes: tuple[FilmScene, ...]
    transcript: str  # package path of the transcript (text)
    transcript_text: str
    digest: str | None = None  # cache key of the MP4 and captions
    voice: dict[str, str] | None = None  # the engine's identity
    encoder: FilmEncoder | None = None
    mp4: str | None = None
    vtt: str | None = None

    @property
    def sentences(self) -> list[Sentence]:
        return [s for scene in self.scenes for s in scene.sentences]


def _scenes(program: Program, key: str, lexicon: Lexicon) -> tuple[FilmScene, ...]:
    scenes, counter = [], 0
    for scene in program.films[key].storyboard.scenes:
        said = []
        for p, paragraph in enumerate(scene.narration.split("\n\n")):
            for j, (a, b) in enumerate(split_sentences(paragraph)):
                counter += 1
                shown = " ".join(paragraph[a:b].split())
                # The scene's first sentence waits for its picture (builder.render.film's lead-in).
                pause = 0 if not said else (PAUSE_IN_BLOCK_MS if j or not p else PAUSE_NEW_BLOCK_MS)
                said.append(Sentence(f"s{counter}", shown, lexicon.apply(shown), pause))
        scenes.append(FilmScene(scene.image, " ".join(scene.alt.split()), " ".join(scene.narration.split()),
                                tuple(said)))
    return tuple(scenes)


def transcript_text(title: str, scenes: tuple[FilmScene, ...], chrome: Chrome = SWEDISH) -> str:
    """The film as text: what each picture shows, then what is said while it is shown (the
    builder's words in `chrome`'s language)."""
    lines = [chrome("%(title)s – filmens text", title=title), "",
             chrome("Filmen visar bilder medan en röst berättar."), ""]
    for i, scene in enumerate(scenes, 1):
        lines += [chrome("Bild %(number)s: %(text)s", number=i, text=scene.alt), scene.narration, ""]
    return "\n".join(lines)


def _named(key: str, hash_hex: str, suffix: str) -> str:
    p = PurePosixPath(key)
    return str(PurePosixPath("media") / p.parent / f"{p.stem}.{hash_hex[:10]}{suffix}")


def film_plans(program: Program, lexicon: Lexicon, voice: dict[str, str] | None = None,
               encoder: FilmEncoder | None = None, chrome: Chrome = SWEDISH) -> dict[str, FilmPlan]:
    """A plan for every storyboard of the program; with a voice and an encoder, with its MP4 and
    captions. `chrome`: the program's language for the words the transcript adds."""
    plans = {}
    for key, film in sorted(program.films.items()):
        scenes = _scenes(program, key, lexicon)
        title = film.storyboard.title
        text = transcript_text(title, scenes, chrome)
        plan = FilmPlan(key, title, scenes, _named(key, sha256(text.encode()), ".txt"), text)
        if voice is not None and encoder is not None:
            pictures = [[s.image, sha256(program.tree.files[f"media/{s.image}"])] for s in scenes]
            said = [[[s.id, s.text, s.spoken, s.pause_ms] for s in scene.sentences] for scene in scenes]
            key_hex = digest(FILM_FORMAT, voice, encoder.identity(), pictures, said)
            plan = FilmPlan(key, title, scenes, plan.transcript, text, key_hex, voice, encoder,
                            _named(key, key_hex, ".mp4"), _named(key, key_hex, ".vtt"))
        plans[key] = plan
    return plans
