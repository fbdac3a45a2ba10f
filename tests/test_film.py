"""Films made from a storyboard (issue 17): format, checks, pages, encoding, cache, determinism.

Requirements: a storyboard (`media/**/*.yaml`: title, scenes of image, alt, narration) shown
with `::: video film/x.yaml` becomes an H.264/AAC MP4 with captions (a cue per sentence,
timed by the synthesis) and a transcript that also says what each picture shows; mistakes
are FILM-00x (or the schema's codes) at their line; the film is cached by its inputs and
byte-identical across builds; `--no-audio` shows the transcript instead of a player.

The encoding tests use the real espeak-ng and ffmpeg at 160x90 and skip without them
(`make test` installs both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from tests.conftest import diagnose

BOARD = "media/film/kort.yaml"
STEP = "modules/02-fordjupning/01-mer.md"
SECOND = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 80 60"><rect width="80" height="60" fill="#dde"/>'
          '<circle cx="40" cy="30" r="12" fill="#6a8"/></svg>')
GOOD = """title: En kort film
scenes:
  - image: bilder/sol.svg
    alt: En sol över en äng.
    narration: Hej och välkommen. Nu tittar vi ut.
  - image: bilder/cirkel.svg
    alt: En grön cirkel.
    narration: Tack för att du tittade.
"""


def with_film(board: str = GOOD, block: str = "::: video film/kort.yaml\n:::\n") -> dict:
    return {BOARD: board, "media/bilder/cirkel.svg": SECOND, STEP: lambda text: f"{text}\n{block}"}


def codes(items) -> list[tuple[str, str, int]]:
    return [(d.code, d.path, d.line) for d in items]


# --- the storyboard format and its checks ------------------------------------------------


def test_storyboard__valid__no_diagnostics(program):
    assert [d for d in diagnose(program(with_film())) if d.code.startswith(("FILM", "SCHEMA", "REF", "A11Y"))] == []


@pytest.mark.parametrize(("board", "expected"), [
    (GOOD.replace("    alt: En grön cirkel.\n", "    alt: ' '\n"), ("FILM-002", BOARD, 7)),
    (GOOD.replace("narration: Tack för att du tittade.", "narration: ''"), ("FILM-003", BOARD, 8)),
    ("title: Tom\nscenes: []\n", ("FILM-001", BOARD, 2)),
    (GOOD.replace("bilder/cirkel.svg", "bilder/cirkl.svg"), ("REF-003", BOARD, 6)),
    (GOOD.replace("    alt: En grön cirkel.\n", ""), ("SCHEMA-002", BOARD, 6)),
    (GOOD.replace("    alt: En sol över en äng.\n", "    alt: En sol över en äng.\n    ljud: nej\n"),
     ("SCHEMA-001", BOARD, 5)),
    (GOOD.replace("Tack för att du tittade.", "ord " * 61), ("FILM-007", BOARD, 8)),
])
def test_storyboard__mistake__code_at_its_line__error(program, board, expected):
    found = codes(diagnose(program(with_film(board))))
    assert expected in found, found


def test_storyboard__picture_a_film_cannot_show__error(program):
    root = program(with_film(GOOD.replace("bilder/cirkel.svg", "film/test.md")))
    assert ("FILM-004", BOARD, 6) in codes(diagnose(root))


def test_storyboard_video__own_captions_or_transcript__error(program):
    block = "::: video film/kort.yaml\ncaptions: film/test.sv.vtt\n:::\n"
    root = program(with_film(block=block))
    line = (root / STEP).read_text("utf-8").split("\n").index("captions: film/test.sv.vtt") + 1
    found = codes(diagnose(root))
    assert ("FILM-005", STEP, line) in found and not [c for c in found if c[0] == "A11Y-002"], found


def test_storyboard__not_shown_by_any_step__warning(program):
    root = program({BOARD: GOOD, "media/bilder/cirkel.svg": SECOND})
    assert ("FILM-006", BOARD, 1) in codes(diagnose(root))


def test_video_url__still_works__ok(program):
    """`::: video https://…` with its own captions and transcript is untouched by storyboards."""
    assert not [d for d in diagnose(program(with_film())) if d.path.endswith("02-mitt-mal.md")]


# --- pages without a voice -------------------------------------------------------------------


def test_no_audio__page_shows_transcript_not_a_player__ok(program, config):
    diags = Diagnostics()
    outcome = build_dir(program(with_film()), config, diags)
    assert outcome.package is not None, diags.items
    folder = outcome.package.folder
    fragment = json.loads((folder / "fragments/fordjupning/mer.json").read_text("utf-8"))
    html = "".join(p.get("html", "") for p in fragment["parts"])
    assert "<video" not in html and '<details class="transcript" open>' in html
    assert "Bild: En sol över en äng." in html and "Tack för att du tittade." in html
    (transcript,) = [m for m in fragment["media"] if m.endswith(".txt")]
    text = (folder / transcript).read_text("utf-8")
    assert "Bild 1: En sol över en äng.\nHej och välkommen. Nu tittar vi ut." in text
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["files"][transcript]["used_by"] == ["fordjupning/mer"]
    assert not any(rel.endswith(".yaml") for rel in manifest["files"] if rel.startswith("media/"))
    assert any("görs inte utan ljud" in note for note in outcome.report.notes)


# --- encoding (espeak-ng and ffmpeg) ----------------------------------------------------------

needs_tools = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe") and shutil.which("espeak-ng")),
                                 reason="ffmpeg and espeak-ng are needed (make test installs them)")


def film_build(root: Path, config, out: Path, cache: Path):
    from builder.speech.engines import EspeakEngine

    diags = Diagnostics()
    cfg = config.model_copy(update={"audio": True, "out": out, "cache": cache, "film_height": 90, "jobs": 1})
    outcome = build_dir(root, cfg, diags, EspeakEngine())
    assert outcome.package is not None, diags.items
    return outcome


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny film, built cold twice (separate caches) and once more warm."""
    from tests.conftest import make_program

    if not (shutil.which("ffmpeg") and shutil.which("espeak-ng")):
        pytest.skip("ffmpeg and espeak-ng are needed (make test installs them)")
    from builder.config import BuildConfig

    base = tmp_path_factory.mktemp("film")
    root = make_program(base / "src", with_film())
    config = BuildConfig(out=base / "dist", audio=False, pdf=False, source_date_epoch=1700000000)
    first = film_build(root, config, base / "o1", base / "c1")
    second = film_build(root, config, base / "o2", base / "c2")
    return root, config, base, first, second


def film_files(folder: Path) -> dict[str, Path]:
    return {p.suffix: p for p in (folder / "media/film").iterdir() if p.name.startswith("kort.")}


@needs_tools
def test_film__h264_aac_mp4_of_the_narration__ok(built):
    *_, first, _ = built
    files = film_files(first.package.folder)
    info = probe(files[".mp4"])
    streams = {s["codec_type"]: s for s in info["streams"]}
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 160, 90)
    assert audio["codec_name"] == "aac" and audio["channels"] == 1
    duration = float(info["format"]["duration"])
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", files[".vtt"].read_text("utf-8"))
    assert len(cues) == 3  # one cue per sentence
    # The film lasts its narration plus the scenes' short lead-ins and pauses; captions end inside it.
    assert seconds(cues[-1][1]) < duration <= seconds(cues[-1][1]) + 1.5
    assert abs(float(video["duration"]) - duration) < 0.05
    assert files[".mp4"].stat().st_size < 200_000
    data = files[".mp4"].read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while it downloads


@needs_tools
def test_film__captions_are_the_sentences_in_order__ok(built):
    *_, first, _ = built
    vtt = film_files(first.package.folder)[".vtt"].read_text("utf-8")
    texts = [block.split("\n")[-1] for block in vtt.strip().split("\n\n")[1:]]
    assert texts == ["Hej och välkommen.", "Nu tittar vi ut.", "Tack för att du tittade."]


@needs_tools
def test_film__same_sources_give_same_bytes_with_cold_caches__ok(built):
    *_, first, second = built
    a, b = film_files(first.package.folder), film_files(second.package.folder)
    assert a[".mp4"].name == b[".mp4"].name
    assert a[".mp4"].read_bytes() == b[".mp4"].read_bytes()
    assert a[".vtt"].read_bytes() == b[".vtt"].read_bytes()


@needs_tools
def test_film__unchanged_film_is_not_encoded_again__ok(built, monkeypatch):
    import builder.render.film as film

    root, config, base, first, _ = built

    def no_encoding(*args, **kwargs):
        raise AssertionError("an unchanged film was encoded again")

    monkeypatch.setattr(film, "encode_film", no_encoding)
    again = film_build(root, config, base / "o3", base / "c1")
    assert film_files(again.package.folder)[".mp4"].read_bytes() == film_files(first.package.folder)[".mp4"].read_bytes()
    assert any(note.startswith("Film: 1 filmer, 0 kodade") for note in again.report.notes), again.report.notes


@needs_tools
def test_film__page_and_fragment_play_it_with_captions_and_transcript__ok(built):
    *_, first, _ = built
    folder = first.package.folder
    files = film_files(folder)
    fragment = json.loads((folder / "fragments/fordjupning/mer.json").read_text("utf-8"))
    html = "".join(p.get("html", "") for p in fragment["parts"])
    page = (folder / "fordjupning/mer.html").read_text("utf-8")
    for body in (html, page):
        assert f'src="../media/film/{files[".mp4"].name}"' in body and "poster=" in body
        assert f'<track kind="captions" src="../media/film/{files[".vtt"].name}" srclang="sv"' in body
        assert "Bild: En grön cirkel." in body and f'href="../media/film/{files[".txt"].name}"' in body
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    for path in files.values():
        assert manifest["files"][path.relative_to(folder).as_posix()]["used_by"] == ["fordjupning/mer"]
    made = manifest["films"][files[".mp4"].relative_to(folder).as_posix()]
    assert made["engine"] == "espeak-ng" and made["size"] == "160x90" and made["encoder"].startswith("ffmpeg")
