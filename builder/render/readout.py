"""The readout of a step: the sentences a listener hears, in page order.

Input: a validated `Step` and the program's `Lexicon`. Output: `Readout`, whose
sentences carry the text shown (cue text) and the text spoken (after the
lexicon), and, for highlighting, where each sentence lies in the page's text
tokens. Headings, paragraphs, list items and callouts are read; forms, films,
audio blocks, URLs and markup never are; image alt text only when the step says
`read_alt_text: true`. A step's own `readout:` text replaces all of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it.token import Token

from builder.model import Step
from builder.speech.lexicon import Lexicon
from builder.speech.sentences import split_sentences

#: Pause before a sentence, by what precedes it (milliseconds).
PAUSE_IN_BLOCK_MS = 350
PAUSE_NEW_BLOCK_MS = 650
PAUSE_AFTER_HEADING_MS = 800


@dataclass(frozen=True)
class Sentence:
    id: str  # "s1", "s2", …: cue id and data-s in the page
    text: str  # as shown (cue text)
    spoken: str  # after the lexicon
    pause_ms: int  # silence before it


@dataclass
class Readout:
    sentences: list[Sentence] = field(default_factory=list)
    #: id(text token) -> [(start, end, sentence id)] within that token's content
    spans: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)


def _blocks(tokens: list[Token], read_alt: bool):
    """Yield (inline token, is_heading) for every readable block, callouts included."""
    heading = False
    for tok in tokens:
        if tok.type == "heading_open":
            heading = True
        elif tok.type == "heading_close":
            heading = False
        elif tok.type == "inline":
            yield tok, heading
        elif tok.type == "colon_fence":
            d = tok.meta.get("directive")
            if d is not None and d.name == "callout":
                yield from _blocks(d.body, read_alt)


def _plain(inline: Token, read_alt: bool) -> tuple[str, list[tuple[Token, int]]]:
    """Plain text of an inline token and the offset of each text child in it."""
    parts, offsets, pos = [], [], 0
    for child in inline.children or []:
        if child.type == "text":
            piece = child.content
            offsets.append((child, pos))
        elif child.type == "code_inline":
            piece = child.content
        elif child.type in ("softbreak", "hardbreak"):
            piece = " "
        elif child.type == "image" and read_alt:
            piece = f" {child.content} "
        else:
            continue
        parts.append(piece)
        pos += len(piece)
    return "".join(parts), offsets


def build_readout(step: Step, lexicon: Lexicon) -> Readout:
    """The sentences of a step and where they are in its tokens."""
    readout = Readout()
    meta = step.meta
    counter = 0

    def add(text: str, pause: int) -> str:
        nonlocal counter
        counter += 1
        shown = " ".join(text.split())
        readout.sentences.append(Sentence(f"s{counter}", shown, lexicon.apply(shown), pause if counter > 1 else 0))
        return f"s{counter}"

    if meta.readout:
        for paragraph in meta.readout.split("\n\n"):
            for j, (a, b) in enumerate(split_sentences(paragraph, lexicon.language)):
                add(paragraph[a:b], PAUSE_IN_BLOCK_MS if j else PAUSE_NEW_BLOCK_MS)
        return readout

    after_heading = False
    for inline, is_heading in _blocks(step.body.tokens, meta.read_alt_text):
        text, offsets = _plain(inline, meta.read_alt_text)
        placed: list[tuple[int, int, str]] = []
        for j, (a, b) in enumerate(split_sentences(text, lexicon.language)):
            pause = PAUSE_IN_BLOCK_MS if j else (PAUSE_AFTER_HEADING_MS if after_heading else PAUSE_NEW_BLOCK_MS)
            placed.append((a, b, add(text[a:b], pause)))
        after_heading = is_heading and bool(placed)
        for child, start in offsets:
            end = start + len(child.content)
            pieces = [(max(a, start) - start, min(b, end) - start, sid) for a, b, sid in placed if a < end and b > start]
            if pieces:
                readout.spans[id(child)] = pieces
    return readout
