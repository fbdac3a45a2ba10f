"""A film's storyboard (`media/**/*.yaml`): a title and scenes of a picture, its alt text and narration.

The compiler makes the film from it (`builder.render.film`): each scene's picture is shown
while the same voice as the readouts speaks its narration; captions and a transcript that
also says what each picture shows come from the same text.
"""

from __future__ import annotations

from pydantic import Field

from builder.schema.common import Model


class Scene(Model):
    """One picture of the film and what is said while it is shown."""

    image: str = Field(description="The picture, a path inside media/ (SVG, PNG or JPEG), e.g. bilder/promenad.svg.")
    alt: str = Field(description="What the picture shows, for the transcript and for those who cannot see it.")
    narration: str = Field(description="What the voice says while the picture is shown (one or more sentences).")


class Storyboard(Model):
    """`media/film/<name>.yaml`, shown with `::: video film/<name>.yaml`."""

    title: str = Field(description="The film's title, shown above the player.")
    scenes: list[Scene] = Field(description="The scenes in order; each is one picture with its narration.")
