"""Mono 16-bit PCM: reading WAV, trimming silence, joining, loudness and MP3.

Sentences are synthesised separately and joined here, so every cue offset comes
from the real number of samples before it.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

import lameenc
import numpy as np

#: Target loudness of speech (RMS of the voiced samples), in dBFS, and the peak ceiling.
TARGET_RMS_DBFS = -20.0
PEAK_CEILING = 0.89  # about -1 dBFS
SILENCE_THRESHOLD = 200  # |sample| below this counts as silence when trimming
MP3_BITRATE_KBPS = 48  # mono speech; LAME quality 7 keeps cold builds fast
MP3_QUALITY = 7


@dataclass(frozen=True)
class Pcm:
    """Mono signed 16-bit samples at a sample rate."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def read_wav(data: bytes) -> Pcm:
    """Parse a 16-bit mono WAV, tolerating the bogus sizes of streamed output (espeak-ng --stdout)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, fmt_ok = 12, 0, False
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            fmt_ok = audio_format == 1 and channels == 1 and bits == 16
        elif chunk == b"data":
            if not fmt_ok:
                raise ValueError("WAV is not 16-bit mono PCM")
            end = len(data) if size in (0, 0xFFFFFFFF, 0x7FFFFFFF) or body + size > len(data) else body + size
            raw = data[body:end]
            return Pcm(np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").copy(), rate)
        pos = body + size + (size & 1)
    raise ValueError("WAV has no data chunk")


def write_wav(pcm: Pcm) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.samples.astype("<i2").tobytes())
    return buf.getvalue()


def trim(pcm: Pcm, margin_ms: int = 20) -> Pcm:
    """Remove leading and trailing silence, keeping a short margin."""
    loud = np.flatnonzero(np.abs(pcm.samples.astype(np.int32)) >= SILENCE_THRESHOLD)
    if loud.size == 0:
        return Pcm(pcm.samples[:0], pcm.rate)
    margin = pcm.rate * margin_ms // 1000
    start = max(int(loud[0]) - margin, 0)
    end = min(int(loud[-1]) + 1 + margin, len(pcm.samples))
    return Pcm(pcm.samples[start:end], pcm.rate)


def silence(rate: int, ms: int) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Linear resampling; only used when engines of different rates meet."""
    if pcm.rate == rate or len(pcm.samples) == 0:
        return Pcm(pcm.samples, rate)
    n = int(round(len(pcm.samples) * rate / pcm.rate))
    x = np.linspace(0, len(pcm.samples) - 1, n)
    return Pcm(np.interp(x, np.arange(len(pcm.samples)), pcm.samples).astype(np.int16), rate)


def normalise(samples: np.ndarray) -> np.ndarray:
    """Scale speech to the target RMS, then keep peaks under the ceiling."""
    if samples.size == 0:
        return samples
    x = samples.astype(np.float32) / 32768.0
    voiced = x[np.abs(x) >= SILENCE_THRESHOLD / 32768.0]
    if voiced.size == 0:
        return samples
    rms = float(np.sqrt(np.mean(np.square(voiced, dtype=np.float64))))
    gain = 10 ** (TARGET_RMS_DBFS / 20) / rms
    peak = float(np.max(np.abs(x))) * gain
    if peak > PEAK_CEILING:
        gain *= PEAK_CEILING / peak
    return np.clip(np.rint(x * np.float32(gain * 32768.0)), -32768, 32767).astype(np.int16)


def encode_mp3(samples: np.ndarray, rate: int) -> bytes:
    """MP3 at a speech bitrate (LAME via lameenc)."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_BITRATE_KBPS)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(MP3_QUALITY)
    return bytes(encoder.encode(samples.astype("<i2").tobytes()) + encoder.flush())
