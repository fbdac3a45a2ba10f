"""Build settings: one frozen model, passed as an argument (never a global)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Defined without pydantic, so `stegvis build` can see that nothing changed quickly (issue #7).
from builder.defaults import FILM_HEIGHT, TEMPLATES, ZIP_EPOCH, source_date_epoch  # noqa: F401 (re-exported)

#: Marks a setting that changes how a build runs, never what it writes or reports: the
#: build state leaves it out, so changing it is no reason to rebuild (issue #7).
RUN_ONLY = {"state": False}


class BuildConfig(BaseModel):
    """How a build runs; separate from the content's own program.yaml."""

    model_config = ConfigDict(frozen=True)

    out: Path = Field(Path("dist"), description="Folder that receives <program-id>/<version>/ and the zip.")
    audio: bool = Field(True, description="Synthesise readouts (the audio stage).")
    pdf: bool = Field(True, description="Print PDFs (the pdf stage).")
    strict: bool = Field(False, description="Treat warnings as errors.")
    release: bool = Field(False, description="Refuse to replace a package of the same version with other content.")
    fmt: Literal["text", "json", "github"] = Field("text", description="Diagnostics format.", json_schema_extra=RUN_ONLY)
    source_date_epoch: int = Field(default_factory=source_date_epoch, description="Timestamp for zip entries and PDF dates (reproducible builds).")
    templates: Path = Field(TEMPLATES, description="Jinja2 templates and CSS.")
    tts: Literal["auto", "espeak", "gtts"] = Field("auto", description="Voice engine for readouts.")
    film_height: int = Field(FILM_HEIGHT, ge=90, le=1080, multiple_of=2,
                             description="Frame height of films made from storyboards (16:9; 540 gives 960x540).")
    cache: Path = Field(Path(".cache"), description="Content-addressed cache (audio, PDFs) that CI may keep between runs.",
                       json_schema_extra=RUN_ONLY)
    jobs: int = Field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 4)), description="Worker processes.",
                      json_schema_extra=RUN_ONLY)

    def output_settings(self) -> dict[str, object]:
        """Every setting that changes what a build writes or reports: each field not marked `RUN_ONLY`
        (a new setting counts until it is marked, so forgetting costs a rebuild, never a stale package)."""
        return {name: getattr(self, name) for name, info in type(self).model_fields.items()
                if info.json_schema_extra != RUN_ONLY}
