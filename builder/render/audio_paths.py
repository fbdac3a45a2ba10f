"""Where the readouts of a program land in the package (the audio stage's naming rules).

Stage: render (audio). Input: a `Step`. Output: the package paths of its MP3 and cue
file. Kept apart from `builder.render.audio` (as `pdf_paths` is from the pdf stage) so
that HTML pages and program.json can link readouts without importing numpy and the
encoder, which a build without audio never needs (issue #7: fast no-audio builds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from builder.model import Step


def audio_paths(step: Step) -> tuple[str, str]:
    """Package paths of a step's MP3 and cue file."""
    base = f"audio/{step.module_id}/{step.id}"
    return f"{base}.mp3", f"{base}.vtt"
