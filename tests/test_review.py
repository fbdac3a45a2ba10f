"""Review tracking: status, signing and word diffs from git (issue #7)."""

from __future__ import annotations

import json
import subprocess

from builder.cli import main
from builder.review import content_hash


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def repo(program):
    root = program()
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "start")
    return root


def commit(root):
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "edit")


def test_hash__ignores_the_reviewed_entry_and_trailing_spaces__ok():
    a = "---\ntitle: A\nsection: B\n---\n# A\n\nText.  \n"
    b = "---\ntitle: A\nsection: B\nreviewed: {by: X, on: 2026-01-01, hash: abc}\n---\n# A\n\nText.\n"
    assert content_hash("step", a) == content_hash("step", b)
    assert content_hash("step", a) != content_hash("step", a.replace("Text.", "Mer text."))


def test_review__lists_never_and_changed__ok(program, capsys):
    root = program()
    assert main(["review", str(root)]) == 0
    out = capsys.readouterr().out
    assert "0 av 6 granskade" in out
    assert "01-valkommen.md: steg aldrig granskat" in out
    assert "02-mitt-mal.md: steg ändrat sedan Granskare granskade det 2026-10-02" in out
    assert main(["review", str(root), "--check"]) == 1


def test_sign__then_review_ok__and_edit_shows_word_diff(program, capsys, monkeypatch):
    root = repo(program)
    monkeypatch.chdir(root)
    step = "modules/01-start/01-valkommen.md"
    assert main(["review", "--sign", step, "forms/mal.yaml", "--by", "Anna Granskare"]) == 0
    text = (root / step).read_text()
    assert 'reviewed: {by: "Anna Granskare", on: ' in text
    commit(root)
    assert main(["review", ".", "--format", "json"]) == 0
    items = {i["name"]: i for i in json.loads(capsys.readouterr().out)[0]["items"]}
    assert items["start/valkommen"]["status"] == "ok" and items["mal"]["status"] == "ok"
    (root / step).write_text(text.replace("Det här är ett kort steg.", "Det här är ett lugnt steg."))
    assert main(["review", "."]) == 0
    out = capsys.readouterr().out
    assert "01-valkommen.md: steg ändrat sedan Anna Granskare granskade det" in out
    assert "{-kort-}{+lugnt+}" in out


def test_sign__twice_replaces_the_stamp__ok(program, monkeypatch):
    root = program()
    monkeypatch.chdir(root)
    step = "modules/01-start/02-mitt-mal.md"
    assert main(["review", "--sign", step, "--by", "A"]) == 0
    assert main(["review", "--sign", step, "--by", "B"]) == 0
    text = (root / step).read_text()
    assert text.count("reviewed:") == 1 and 'by: "B"' in text
    plan = root / "activity-plans/steg.yaml"
    plan.write_text(plan.read_text() + "reviewed:\n  by: Gammal\n  on: 2020-01-01\n  hash: 0\n")
    assert main(["review", "--sign", "activity-plans/steg.yaml", "--by", "Ny"]) == 0
    assert plan.read_text().count("reviewed:") == 1 and "Gammal" not in plan.read_text()
    assert main(["check", "."]) == 0


def test_sign__hash_that_looks_like_a_number__quoted_and_read_as_text(program, monkeypatch):
    """Found signing FRAMÅT (issue 17): hash 563e41576280 written bare read back as a float (inf)."""
    import builder.review

    root = program()
    monkeypatch.chdir(root)
    for digest in ("563e41576280", "123456789012"):
        monkeypatch.setattr(builder.review, "content_hash", lambda kind, text, d=digest: d)
        assert main(["review", "--sign", "modules/01-start/01-valkommen.md", "--by", "A"]) == 0
        assert f'hash: "{digest}"}}' in (root / "modules/01-start/01-valkommen.md").read_text()
        assert main(["check", "."]) == 0


def test_sign__without_by_or_on_wrong_file__exit_2(program, monkeypatch, capsys):
    monkeypatch.chdir(program())
    assert main(["review", "--sign", "modules/01-start/01-valkommen.md"]) == 2
    assert main(["review", "--sign", "media/bilder/sol.svg", "--by", "X"]) == 2
