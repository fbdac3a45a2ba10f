"""Voice engines as plugins: espeak-ng (offline) and gTTS (online).

An engine turns one sentence into PCM. Its `identity` (name, voice, version and
settings) is part of every cache key and is recorded in the manifest. No engine
may hang a build: espeak-ng runs with a time limit, gTTS with a short network
timeout, and `choose_engine("auto")` falls back to espeak-ng when gTTS does not
answer in time, or is not installed (the online-tts extra).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from builder.speech.pcm import Pcm, read_wav

GTTS_RATE = 24000


class EngineError(Exception):
    """A sentence could not be synthesised."""


class EngineUnavailable(Exception):
    """The engine cannot run here (not installed, or no network)."""


class Engine(Protocol):
    name: str
    voice: str

    def identity(self) -> dict[str, str]: ...

    def synthesize(self, text: str) -> Pcm: ...


@dataclass
class EspeakEngine:
    """espeak-ng through its command line: one process per sentence, deterministic output."""

    voice: str = "sv"
    speed: int = 150  # words per minute; calm reading pace
    executable: str = field(default_factory=lambda: shutil.which("espeak-ng") or "")
    name: str = "espeak-ng"
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.executable:
            raise EngineUnavailable("espeak-ng är inte installerat (Debian-paketet espeak-ng; `make build` installerar det).")
        out = subprocess.run([self.executable, "--version"], capture_output=True, text=True, timeout=10)
        self.version = out.stdout.split("text-to-speech:")[-1].split()[0] if out.stdout else "?"

    def identity(self) -> dict[str, str]:
        return {"engine": self.name, "voice": self.voice, "version": self.version, "speed": str(self.speed)}

    def synthesize(self, text: str) -> Pcm:
        try:
            out = subprocess.run(
                [self.executable, "-v", self.voice, "-s", str(self.speed), "--stdout", "--stdin"],
                input=text.encode("utf-8"), capture_output=True, timeout=self.timeout, check=True,
            )
            return read_wav(out.stdout)
        except (subprocess.SubprocessError, ValueError) as exc:
            raise EngineError(f"espeak-ng kunde inte läsa upp meningen: {exc}") from exc


@dataclass
class GttsEngine:
    """Google's text-to-speech through gTTS: online, with a short timeout."""

    voice: str = "sv"
    timeout: float = 5.0
    name: str = "gtts"

    def __post_init__(self) -> None:
        try:
            import gtts
            import miniaudio  # noqa: F401 (decodes gTTS's MP3; the online-tts extra installs both)
        except ImportError as exc:
            raise EngineUnavailable("gTTS är inte installerat (tillägget online-tts: "
                                    "pip install 'stegvis[online-tts]').") from exc
        self.version = gtts.__version__

    def identity(self) -> dict[str, str]:
        return {"engine": self.name, "voice": self.voice, "version": self.version}

    def synthesize(self, text: str) -> Pcm:
        import miniaudio
        from gtts import gTTS

        buf = io.BytesIO()
        try:
            gTTS(text, lang=self.voice, timeout=self.timeout).write_to_fp(buf)
        except Exception as exc:  # gTTSError, requests' errors, AssertionError on empty text
            raise EngineError(f"gTTS svarade inte: {exc}") from exc
        try:
            decoded = miniaudio.decode(buf.getvalue(), output_format=miniaudio.SampleFormat.SIGNED16,
                                       nchannels=1, sample_rate=GTTS_RATE)
        except miniaudio.DecodeError as exc:
            raise EngineError(f"gTTS gav ljud som inte går att avkoda: {exc}") from exc
        return Pcm(np.frombuffer(decoded.samples.tobytes(), dtype="<i2").copy(), GTTS_RATE)

    def probe(self) -> str | None:
        """None when gTTS answers within the timeout, else the reason it does not."""
        try:
            self.synthesize("Hej.")
        except EngineError as exc:
            return str(exc)
        return None


#: espeak-ng's voice for a language where its name differs from the language code.
ESPEAK_VOICES = {"en": "en-gb", "pt": "pt", "zh": "cmn"}


@functools.lru_cache(maxsize=4)
def espeak_voices(executable: str) -> frozenset[str]:
    """The languages espeak-ng has a voice for (`espeak-ng --voices`, second column)."""
    try:
        out = subprocess.run([executable, "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1)


def espeak_voice(language: str, executable: str | None = None) -> str | None:
    """espeak-ng's voice for a language (BCP 47 code, e.g. fi, smj, ar), or None when it has none."""
    executable = executable or shutil.which("espeak-ng") or ""
    if not executable:
        return None
    voices = espeak_voices(executable)
    code = language.lower()
    for candidate in (ESPEAK_VOICES.get(code, code), code, code.split("-")[0]):
        if candidate in voices:
            return candidate
    return None


class NoVoice(EngineUnavailable):
    """The engine has no voice for the program's language."""


def engine_for_language(engine: Engine, language: str) -> Engine:
    """The same kind of engine with the voice of `language` (issue 18): the engine itself when its
    voice already is that language's. gTTS without the language falls back to espeak-ng.
    Raises NoVoice when no engine here can read the language."""
    if isinstance(engine, GttsEngine):
        try:
            from gtts.lang import tts_langs

            if language in tts_langs():
                return engine if engine.voice == language else GttsEngine(voice=language, timeout=engine.timeout)
        except ImportError:  # pragma: no cover (the engine exists, so gTTS is installed)
            pass
        executable = shutil.which("espeak-ng") or ""
    else:
        executable = getattr(engine, "executable", "") or shutil.which("espeak-ng") or ""
    voice = espeak_voice(language, executable)
    if voice is None:
        raise NoVoice(f"espeak-ng har ingen röst för språket {language}.")
    if isinstance(engine, EspeakEngine) and engine.voice == voice:
        return engine
    speed = engine.speed if isinstance(engine, EspeakEngine) else EspeakEngine.speed
    return EspeakEngine(voice=voice, speed=speed, executable=executable)


def choose_engine(mode: str, voice: str = "sv", gtts_timeout: float = 3.0) -> tuple[Engine, str | None]:
    """The engine for `--tts auto|espeak|gtts`, and a note for the build output.

    Raises EngineUnavailable when the requested engine cannot run.
    """
    if mode == "espeak":
        return EspeakEngine(voice=voice), None
    try:
        gtts = GttsEngine(voice=voice, timeout=gtts_timeout)
    except EngineUnavailable:
        if mode == "gtts":
            raise
        return EspeakEngine(voice=voice), None  # no online-tts extra: the offline voice, as chosen
    reason = gtts.probe()
    if reason is None:
        return gtts, None
    if mode == "gtts":
        raise EngineUnavailable(f"gTTS nås inte: {reason}")
    return EspeakEngine(voice=voice), f"gTTS nås inte ({reason}); använder espeak-ng."
