"""Caption files for films: WebVTT and SRT, parsed and checked; SRT converted to WebVTT.

A caption file is well-formed (a WEBVTT header, or numbered SRT blocks), every cue
has a start before its end and some text, cues start in order, and no cue starts
before the previous one has ended (overlapping captions hide each other's text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIME = r"(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s+-->\s+{_TIME}(?:\s+.*)?$")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    line: int  # 1-based line of the timing line


@dataclass(frozen=True)
class CaptionProblem:
    code: str  # CAPTION-001 …
    line: int
    detail: str


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_captions(text: str, srt: bool) -> tuple[list[Cue], list[CaptionProblem]]:
    """Cues and problems of a WebVTT (or, with `srt`, SubRip) file."""
    problems: list[CaptionProblem] = []
    lines = text.replace("\r\n", "\n").removeprefix("\ufeff").split("\n")
    if not srt and not (lines and (lines[0] == "WEBVTT" or lines[0].startswith(("WEBVTT ", "WEBVTT\t")))):
        return [], [CaptionProblem("CAPTION-001", 1, "första raden ska vara WEBVTT")]
    cues: list[Cue] = []
    i = 1 if not srt else 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block_start = i
        if not srt and lines[i].startswith(("NOTE", "STYLE", "REGION")):
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        timing_at = i if "-->" in lines[i] else i + 1
        if timing_at >= len(lines) or "-->" not in lines[timing_at]:
            problems.append(CaptionProblem("CAPTION-001", block_start + 1, f"raden '{lines[block_start].strip()}' är ingen tidsrad"))
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        m = _TIMING.match(lines[timing_at])
        i = timing_at + 1
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        if not m:
            problems.append(CaptionProblem("CAPTION-001", timing_at + 1, f"tidsraden '{lines[timing_at].strip()}' går inte att läsa"))
            continue
        g = m.groups()
        cues.append(Cue(_seconds(*g[:4]), _seconds(*g[4:]), "\n".join(body), timing_at + 1))
    if not cues and not problems:
        problems.append(CaptionProblem("CAPTION-004", 1, "filen har inga repliker"))
    previous: Cue | None = None
    for cue in cues:
        if not cue.text.strip():
            problems.append(CaptionProblem("CAPTION-004", cue.line, "repliken saknar text"))
        if cue.end <= cue.start:
            problems.append(CaptionProblem("CAPTION-002", cue.line, "repliken slutar innan den börjar"))
        if previous is not None:
            if cue.start < previous.start:
                problems.append(CaptionProblem("CAPTION-002", cue.line, "repliken börjar före den förra"))
            elif cue.start < previous.end:
                problems.append(CaptionProblem("CAPTION-003", cue.line, "repliken börjar innan den förra har slutat"))
        previous = cue
    return cues, problems


def vtt_timestamp(seconds: float) -> str:
    """Seconds as a WebVTT timestamp, hh:mm:ss.mmm."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def srt_to_vtt(text: str) -> bytes:
    """Convert a (checked) SRT file to WebVTT."""
    cues, _ = parse_captions(text, srt=True)
    out = ["WEBVTT", ""]
    for cue in cues:
        out += [f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}", cue.text, ""]
    return "\n".join(out).encode("utf-8")
