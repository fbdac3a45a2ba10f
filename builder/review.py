"""Review tracking: which steps, forms and plans a reviewer has seen as they are now.

A step's front matter (or a form's or plan's YAML) may carry
`reviewed: {by, on, hash}`. The hash is the first 12 hex digits of the sha256 of the
item's content without the `reviewed` key (front matter and body for a step, the
whole document for a form or plan), so any edit after the review shows. Where git
knows the text that was reviewed, the change is shown as a word diff. `sign` stamps
files; it is the only writer here, and it changes only the `reviewed:` entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.diff import word_diff
from builder.yamlsrc import parse_yaml

HASH_LENGTH = 12


def content_hash(kind: str, text: str) -> str | None:
    """The review hash of a step (.md) or a YAML document, from its raw text."""
    front, body = _split(text) if kind == "step" else (text, "")
    doc = parse_yaml(front, "x", Diagnostics())
    if doc is None or not isinstance(doc.data, dict):
        return None
    data = {k: v for k, v in doc.data.items() if k != "reviewed"}
    if kind == "step":
        data = {"front": data, "body": "\n".join(line.rstrip() for line in body.strip().splitlines())}
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def _split(text: str) -> tuple[str, str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip() != "---":
        return "", text
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :])
    return "", text


@dataclass
class ReviewItem:
    kind: str  # step, form, plan
    name: str  # module/step, or the form's or plan's id
    file: Path
    path: str  # display path
    status: str  # "never", "changed", "ok"
    by: str | None
    on: dt.date | None
    reviewed_hash: str | None
    current_hash: str | None
    diff: list[str] | None = None  # word diff from the reviewed text, when git knows it


def review_status(kind: str, file: Path, reviewed) -> tuple[str, str | None]:
    """("never" | "changed" | "ok", current hash) of one step, form or plan file."""
    current = content_hash("step" if kind == "step" else "yaml", file.read_text("utf-8"))
    if reviewed is None:
        return "never", current
    return ("ok" if reviewed.hash == current else "changed"), current


def _item(kind: str, name: str, file: Path, path: str, reviewed) -> ReviewItem:
    status, current = review_status(kind, file, reviewed)
    return ReviewItem(kind, name, file, path, status, reviewed.by if reviewed else None,
                      reviewed.on if reviewed else None, reviewed.hash if reviewed else None, current)


def review_items(program) -> list[ReviewItem]:
    """Review status of every step, form and plan of a validated program."""
    items = [_item("step", f"{s.module_id}/{s.id}", s.file, s.path, s.meta.reviewed) for s in program.steps]
    for form_id, fd in program.forms.items():
        items.append(_item("form", form_id, fd.doc.file, fd.doc.path, fd.form.reviewed))
    for plan_id, pd in program.plans.items():
        items.append(_item("plan", plan_id, pd.doc.file, pd.doc.path, pd.plan.reviewed))
    return items


def reviewed_text(item: ReviewItem) -> str | None:
    """The file's text as it was reviewed, found in git history by its hash; None when unknown."""
    if item.reviewed_hash is None:
        return None
    cwd = item.file.parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        rel = item.file.resolve().relative_to(Path(top).resolve()).as_posix()
        commits = subprocess.run(["git", "log", "--format=%H", "-n", "200", "--", rel], cwd=top, capture_output=True,
                                 text=True, timeout=20, check=True).stdout.split()
        for commit in commits:
            old = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=top, capture_output=True, text=True,
                                 timeout=10)
            if old.returncode == 0 and content_hash("step" if item.kind == "step" else "yaml", old.stdout) == item.reviewed_hash:
                return old.stdout
    except (subprocess.SubprocessError, OSError, ValueError):
        return None
    return None


def with_diffs(items: list[ReviewItem]) -> list[ReviewItem]:
    """Add word diffs to changed items whose reviewed text git still has."""
    for item in items:
        if item.status == "changed":
            old = reviewed_text(item)
            if old is not None:
                item.diff = word_diff(_readable(old), _readable(item.file.read_text("utf-8")))
    return items


def _readable(text: str) -> str:
    return " ".join(text.split())


_REVIEWED = re.compile(r"^reviewed\s*:")
#: A digest that YAML would read as a number (563e41576280 is a float, 123456789012 an int).
_NUMBER_LIKE = re.compile(r"\d+(e\d+)?")


def sign(file: Path, by: str, on: dt.date) -> str:
    """Stamp a step, form or plan file as reviewed now; returns the hash written."""
    text = file.read_text("utf-8")
    kind = "step" if file.suffix == ".md" else "yaml"
    digest = content_hash(kind, text)
    if digest is None:
        raise ValueError(f"{file} går inte att läsa som steg eller YAML")
    shown = f'"{digest}"' if _NUMBER_LIKE.fullmatch(digest) else digest  # must read back as text
    entry = f"reviewed: {{by: {json.dumps(by, ensure_ascii=False)}, on: {on.isoformat()}, hash: {shown}}}"
    lines = text.split("\n")
    if kind == "step":
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        if lines[0].rstrip() != "---" or end is None:
            raise ValueError(f"{file} saknar front matter")
        start, stop = 1, end
    else:
        start, stop = 0, len(lines)
    region = lines[start:stop]
    at = next((i for i, line in enumerate(region) if _REVIEWED.match(line)), None)
    if at is None:
        while region and not region[-1].strip() and kind == "yaml":
            region.pop()
        region.append(entry)
        if kind == "yaml":
            region.append("")
    else:
        end_block = at + 1
        while end_block < len(region) and region[end_block][:1] in (" ", "\t") and region[end_block].strip():
            end_block += 1
        region[at:end_block] = [entry]
    lines[start:stop] = region
    file.write_text("\n".join(lines), "utf-8")
    if content_hash(kind, file.read_text("utf-8")) != digest:  # the stamp itself must not change the hash
        raise RuntimeError(f"bug: stamping {file} changed its review hash")
    return digest
