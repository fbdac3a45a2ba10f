"""What a page read while it rendered: the renderer notes each input, the next build compares them.

Issue 12, after lektor's `record_dependency` and Sphinx's `note_dependency`: instead of a
hand-kept list of each page's inputs, the page renderer notes every input it reads while
it renders a page, as a key `kind:name`. `builder.incremental` stores the keys with the
page and, on the next build, computes each key's value from the new program; a page whose
every read has the value it had is taken from the previous package.

Kinds (the value of each is computed by `builder.incremental.InputValues`):

| kind          | name           | what the page read                                        |
|---------------|----------------|-----------------------------------------------------------|
| shared        |                | templates (not the catalogues), Stegvis' code, program metadata, media names, settings |
| step          | module/step    | a step's source file, metadata and module                 |
| prev, next    | module/step    | the title and page of the step before or after it         |
| readout       | module/step    | the sentences of its readout                              |
| link          | module/step␉href | where a link from that step to another step leads      |
| module        | module         | a module's metadata                                       |
| module-steps  | module         | the module's steps: ids, metadata, pages                  |
| form          | form           | a form as authored                                        |
| form-use      | form           | the steps that embed the form: titles and pages           |
| plan          | plan           | an activity plan as authored                              |
| plans         |                | every activity plan (a plan may show another's title)     |
| structure     |                | the modules in order with their metadata                  |
| film          | storyboard     | a film made from a storyboard: its scenes, voice, encoder and files |
| catalogue     | language       | the pages catalogue of the page's language (its chrome, issue 18) |

Must not: compute values (that needs the whole program; incremental does it) or import
the stages.
"""

from __future__ import annotations

SHARED = "shared"
STEP = "step"
PREV = "prev"
NEXT = "next"
READOUT = "readout"
LINK = "link"
MODULE = "module"
MODULE_STEPS = "module-steps"
FORM = "form"
FORM_USE = "form-use"
PLAN = "plan"
PLANS = "plans"
STRUCTURE = "structure"
FILM = "film"
CATALOGUE = "catalogue"

KINDS = frozenset({SHARED, STEP, PREV, NEXT, READOUT, LINK, MODULE, MODULE_STEPS, FORM, FORM_USE, PLAN, PLANS,
                   STRUCTURE, FILM, CATALOGUE})


def read_key(kind: str, name: str = "") -> str:
    """The key of one read: `kind:name`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of read: {kind}")
    return f"{kind}:{name}"


def split_key(key: str) -> tuple[str, str]:
    """(kind, name) of a key."""
    kind, _, name = key.partition(":")
    return kind, name


class Reads:
    """The inputs one page read while it rendered (keys, in the order first read)."""

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}

    def note(self, kind: str, name: str = "") -> None:
        """Note that the page read this input."""
        self._keys.setdefault(read_key(kind, name))

    @property
    def keys(self) -> list[str]:
        """Every key read, sorted."""
        return sorted(self._keys)
