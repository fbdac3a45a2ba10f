"""Readouts: sentences, lexicon, engines, MP3 and cues, cache, player (issue #4).

Real espeak-ng synthesis on the small fixture; gTTS without the network through a
stubbed HTTP layer; cue files read back with webvtt-py and MP3 durations with
mutagen, independently of our own code.
"""

from __future__ import annotations

import base64
import io
import json
import math

import lameenc
import numpy as np
import pytest
import requests
import webvtt
from hypothesis import given
from hypothesis import strategies as st
from mutagen.mp3 import MP3

from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir, check_dir
from builder.render.readout import build_readout
from builder.speech.engines import EngineError, EngineUnavailable, EspeakEngine, GttsEngine, choose_engine
from builder.speech.lexicon import Lexicon
from builder.speech.sentences import sentences, split_sentences

# --- sentences -----------------------------------------------------------------

HARD_CASES = [
    ("Ät t.ex. frukt. Drick vatten!", ["Ät t.ex. frukt.", "Drick vatten!"]),
    ("Kom kl. 19.00 i morgon. Ta med 1,5 liter vatten.", ["Kom kl. 19.00 i morgon.", "Ta med 1,5 liter vatten."]),
    ("Vi gör det bl.a. för hälsan. Sedan vilar vi osv. Men inte nu.", ["Vi gör det bl.a. för hälsan.", "Sedan vilar vi osv.", "Men inte nu."]),
    ("Det kostar ca 300 kr. Betala i kassan.", ["Det kostar ca 300 kr.", "Betala i kassan."]),
    ("Det vill säga, dvs. Anna kommer. Hon är glad.", ["Det vill säga, dvs. Anna kommer.", "Hon är glad."]),
    ("Ring 1177. Ring 112 vid fara!", ["Ring 1177.", "Ring 112 vid fara!"]),
    ("Den 3. maj börjar vi. Okej?", ["Den 3. maj börjar vi.", "Okej?"]),
    ("Han sa: ”Kom nu.” Sedan gick han.", ["Han sa: ”Kom nu.”", "Sedan gick han."]),
    ("Frukt, grönt, bär m.m. Allt räknas.", ["Frukt, grönt, bär m.m.", "Allt räknas."]),
    ("Ett s.k. stegmål. Sätt det själv.", ["Ett s.k. stegmål.", "Sätt det själv."]),
    ("Rubrik utan punkt", ["Rubrik utan punkt"]),
    ("Vad tycker du… Kanske.", ["Vad tycker du…", "Kanske."]),
    ("Sov 7–9 timmar. 30 min. om dagen räcker.", ["Sov 7–9 timmar.", "30 min. om dagen räcker."]),
    ("Version 1.0.0 är klar. Bra!", ["Version 1.0.0 är klar.", "Bra!"]),
]


@pytest.mark.parametrize(("text", "expected"), HARD_CASES)
def test_sentences__hard_swedish_cases__ok(text, expected):
    assert sentences(text) == expected


WORDS = st.sampled_from(["Ät", "frukt", "t.ex.", "kl.", "19.00", "1,5", "liter", "bl.a.", "Anna", "går", "ca", "osv.",
                         "mat.", "Sov!", "Varför?", "och", "m.m.", "dvs.", "3.", "”Hej.”", "sömn"])


@given(st.lists(WORDS, min_size=1, max_size=30).map(" ".join))
def test_sentences__cover_the_text_in_order_without_overlap__ok(text):
    spans = split_sentences(text)
    assert spans, "non-empty text has a sentence"
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    joined = "".join(text[a:b] for a, b in spans)
    assert joined.replace(" ", "") == text.replace(" ", "")


@given(st.lists(WORDS, min_size=1, max_size=20).map(" ".join))
def test_sentences__never_split_after_abbreviation_or_inside_number__ok(text):
    for a, b in split_sentences(text)[:-1]:
        last = text[a:b].split()[-1]
        assert last.lower() not in ("t.ex.", "kl.", "bl.a.", "dvs.", "ca")


# --- lexicon and readout ----------------------------------------------------------

def test_lexicon__program_entries_and_defaults__ok():
    lex = Lexicon.for_program({"FRAMÅT": "Framåt", "kcal": "kalorier"})
    assert lex.apply("FRAMÅT hjälper t.ex. dig kl. 19.00 med 500 kcal.") == (
        "Framåt hjälper till exempel dig klockan 19.00 med 500 kalorier.")
    assert lex.apply("FRAMÅTGÅENDE") == "FRAMÅTGÅENDE"  # whole words only


def steps_by_id(root):
    program = check_dir(root, Diagnostics())
    return program, {s.id: s for s in program.steps}


def test_readout__reads_text_and_callouts_never_forms_or_urls__ok(program):
    prog, steps = steps_by_id(program())
    lex = Lexicon.for_program(prog.meta.lexicon)
    welcome = [s.text for s in build_readout(steps["valkommen"], lex).sentences]
    assert welcome[:3] == ["Välkommen", "Det här är ett kort steg.", "Du läser det i lugn och ro."]
    assert "Du kan ta en paus när du vill." in welcome  # callout body
    assert not any("http" in s or ".md" in s or "sol.svg" in s for s in welcome)
    assert "En sol över en äng" not in " ".join(welcome)  # alt text only when asked
    goal = [s.text for s in build_readout(steps["mitt-mal"], lex).sentences]
    assert goal == ["Mitt mål", "Skriv ditt mål här nedan."]  # no form labels, no film


def test_readout__alt_text_and_own_text_when_asked__ok(program):
    root = program({"modules/01-start/01-valkommen.md": lambda t: t.replace(
        "section: Kom igång", "section: Kom igång\nread_alt_text: true")})
    prog, steps = steps_by_id(root)
    texts = [s.text for s in build_readout(steps["valkommen"], Lexicon({})).sentences]
    assert "En sol över en äng" in texts
    root = program({"modules/01-start/01-valkommen.md": lambda t: t.replace(
        "section: Kom igång", "section: Kom igång\nreadout: |\n  Hej. Det här är min egen text.\n\n  Slut.")})
    prog, steps = steps_by_id(root)
    assert [s.text for s in build_readout(steps["valkommen"], Lexicon({})).sentences] == [
        "Hej.", "Det här är min egen text.", "Slut."]


# --- real synthesis, cues, cache ------------------------------------------------------

def seconds(stamp: str) -> float:
    """'00:01:02.345' -> 62.345 (webvtt-py's *_in_seconds round to whole seconds)."""
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.fixture(scope="module")
def espeak():
    return EspeakEngine()


def audio_build(root, config, engine, **changes):
    diags = Diagnostics()
    outcome = build_dir(root, config.model_copy(update={"audio": True, **changes}), diags, engine)
    assert outcome.package is not None, diags.items
    return outcome


def test_audio__mp3_and_cues_per_step_checked_independently(program, config, espeak, tmp_path):
    outcome = audio_build(program(), config, espeak, cache=tmp_path / "cache")
    folder = outcome.package.folder
    data = json.loads((folder / "program.json").read_text())
    read = [step for m in data["modules"] for s in m["sections"] for step in s["steps"] if step["readout"]]
    assert [step["id"] for step in read] == ["valkommen", "mitt-mal"]  # "mer" has audio: false
    for step in read:
        mp3, cues_file = folder / step["readout"]["mp3"], folder / step["readout"]["cues"]
        cues = [(seconds(c.start), seconds(c.end)) for c in webvtt.read(str(cues_file))]
        assert len(cues) == step["readout"]["sentences"]
        assert [a for a, _ in cues] == sorted(a for a, _ in cues)
        assert all(a < b for a, b in cues)
        for (_, end), (start, _) in zip(cues, cues[1:], strict=False):
            assert end <= start, "cues never overlap"
        length = MP3(str(mp3)).info.length
        assert abs(length - cues[-1][1]) <= 0.1, (length, cues[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["audio"]["audio/start/valkommen.mp3"]["engine"] == "espeak-ng"
    assert manifest["audio"]["audio/start/valkommen.mp3"]["voice"] == "sv"


def test_audio__loudness_consistent_across_steps(program, config, espeak, tmp_path):
    import miniaudio

    folder = audio_build(program(), config, espeak, cache=tmp_path / "cache").package.folder
    levels = []
    for name in ("start/valkommen", "start/mitt-mal"):
        pcm = miniaudio.decode((folder / f"audio/{name}.mp3").read_bytes(), nchannels=1).samples
        x = np.frombuffer(pcm.tobytes(), dtype=np.int16).astype(float) / 32768
        voiced = x[np.abs(x) > 200 / 32768]
        levels.append(20 * math.log10(math.sqrt(np.mean(voiced**2))))
    assert abs(levels[0] - levels[1]) < 2.0, levels


def test_audio__cache_synthesises_only_changed_sentences(program, config, espeak, tmp_path):
    root = program()
    cache = tmp_path / "cache"
    first = audio_build(root, config, espeak, cache=cache)
    assert first.report.notes and "10 meningar syntetiserade, 0 från cachen" in first.report.notes[-1]
    again = audio_build(root, config, espeak, cache=cache)
    assert "0 meningar syntetiserade, 10 från cachen" in again.report.notes[-1]
    assert again.package.unchanged
    welcome = root / "modules/01-start/01-valkommen.md"
    welcome.write_text(welcome.read_text().replace("Du läser det i lugn och ro.", "Du läser det i din egen takt."))
    edited = audio_build(root, config, espeak, cache=cache)
    assert "1 meningar syntetiserade, 9 från cachen" in edited.report.notes[-1]


def test_audio__same_sources_give_same_bytes_with_cold_cache(program, config, espeak, tmp_path):
    a = audio_build(program(), config, espeak, cache=tmp_path / "c1", out=tmp_path / "o1")
    b = audio_build(program(), config, espeak, cache=tmp_path / "c2", out=tmp_path / "o2")
    assert a.package.zip.read_bytes() == b.package.zip.read_bytes()


def test_audio__page_has_player_and_marked_sentences(program, config, espeak, tmp_path):
    folder = audio_build(program(), config, espeak, cache=tmp_path / "cache").package.folder
    page = (folder / "start/valkommen.html").read_text()
    assert '<audio controls preload="none" src="../audio/start/valkommen.mp3" data-readout>' in page
    assert '<track kind="metadata" src="../audio/start/valkommen.vtt"' in page
    assert '<span data-s="s2">Det här är ett kort steg.</span>' in page
    assert '<script src="../assets/readout.js" defer></script>' in page
    assert (folder / "assets/readout.js").is_file()
    assert "<audio" not in (folder / "fordjupning/mer.html").read_text().split("::: audio")[0].split('class="media')[0]


# --- gTTS without the network ---------------------------------------------------------

def fake_mp3(seconds: float = 0.5, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
    enc = lameenc.Encoder()
    enc.set_bit_rate(32)
    enc.set_in_sample_rate(rate)
    enc.set_channels(1)
    return bytes(enc.encode(tone.tobytes()) + enc.flush())


def gtts_response(audio: bytes, request=None) -> requests.Response:
    response = requests.Response()
    response.request = request
    response.status_code = 200
    payload = base64.b64encode(audio).decode()
    response._content = (")]}'\n\n" + json.dumps([["wrb.fr", "jQ1olc", f'["{payload}"]', None, None, None, "generic"]], separators=(",", ":"))).encode()
    response.raw = io.BytesIO(response._content)
    return response


def test_gtts__stubbed_http__decodes_speech(monkeypatch):
    sent = []

    def send(self, request, **kwargs):
        sent.append(kwargs.get("timeout"))
        return gtts_response(fake_mp3(), request)

    monkeypatch.setattr(requests.Session, "send", send)
    pcm = GttsEngine(timeout=2.0).synthesize("Hej på dig.")
    assert 0.4 < pcm.seconds < 0.7 and pcm.rate == 24000
    assert sent == [2.0], "every request carries the timeout"


@pytest.mark.parametrize("failure", [requests.ConnectTimeout("timeout"), requests.ConnectionError("no route")])
def test_gtts__network_failure__clear_error(monkeypatch, failure):
    def send(self, request, **kwargs):
        raise failure

    monkeypatch.setattr(requests.Session, "send", send)
    with pytest.raises(EngineError, match="gTTS svarade inte"):
        GttsEngine().synthesize("Hej.")


def test_gtts__server_error__clear_error(monkeypatch):
    def send(self, request, **kwargs):
        response = gtts_response(b"", request)
        response.status_code = 500
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    with pytest.raises(EngineError):
        GttsEngine().synthesize("Hej.")


def test_choose_engine__auto_falls_back_to_espeak_when_offline(monkeypatch):
    monkeypatch.setattr(requests.Session, "send", lambda self, request, **kw: (_ for _ in ()).throw(requests.ConnectTimeout()))
    engine, note = choose_engine("auto")
    assert engine.name == "espeak-ng" and "gTTS nås inte" in note
    with pytest.raises(EngineUnavailable):
        choose_engine("gtts")


def test_choose_engine__auto_uses_gtts_when_reachable(monkeypatch):
    monkeypatch.setattr(requests.Session, "send", lambda self, request, **kw: gtts_response(fake_mp3(), request))
    engine, note = choose_engine("auto")
    assert engine.name == "gtts" and note is None


def test_build__with_stubbed_gtts__records_engine(monkeypatch, program, config, tmp_path):
    monkeypatch.setattr(requests.Session, "send", lambda self, request, **kw: gtts_response(fake_mp3(0.3), request))
    outcome = audio_build(program(), config, GttsEngine(), cache=tmp_path / "cache")
    manifest = json.loads((outcome.package.folder / "manifest.json").read_text())
    assert {v["engine"] for v in manifest["audio"].values()} == {"gtts"}


def test_espeak_missing__engine_unavailable(monkeypatch):
    with pytest.raises(EngineUnavailable, match="espeak-ng"):
        EspeakEngine(executable="")


def test_lexicon_yaml__merged_under_program_yaml__ok(program):
    root = program({"lexicon.yaml": "FRAMÅT: Framåt\nkcal: kalorier\n",
                    "program.yaml": lambda t: t.replace("lexicon:\n", "lexicon:\n  kcal: kilokalorier\n")})
    prog, _ = steps_by_id(root)
    assert prog.lexicon["FRAMÅT"] == "Framåt" and prog.lexicon["kcal"] == "kilokalorier"


def test_lexicon_yaml__wrong_value__error(program):
    from tests.conftest import diagnose

    found = diagnose(program({"lexicon.yaml": "FRAMÅT: Framåt\nkcal: [a, b]\n"}))
    assert [(d.code, d.path, d.line) for d in found] == [("SCHEMA-003", "lexicon.yaml", 2)]
