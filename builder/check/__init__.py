"""Stage 4, check: rules that span files, accessibility and readability.

Input: a validated `Program`. Output: diagnostics only; never changes the program.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from builder.check.accessibility import check_accessibility
from builder.check.readability import check_language, check_readability
from builder.check.references import check_references
from builder.check.sources import check_required_sources, check_source_lines
from builder.diagnostics import Diagnostic, Diagnostics
from builder.model import Module, Program, Step

#: Rules that look at one step at a time, so that their findings can be kept with the
#: step's parsed body between builds (`stegvis serve`, issue #7).
STEP_RULES = (check_accessibility, check_readability, check_language, check_source_lines)


def check_program(program: Program, diags: Diagnostics, per_step: bool = False) -> None:
    """Run every cross-file, accessibility and readability rule.

    With `per_step` (`stegvis serve`, whose memo keeps the parsed bodies of unchanged
    files), the step rules run one step at a time and their findings are kept with the
    step's body, so an unchanged step is not checked again.
    """
    check_references(program, diags)
    check_required_sources(program, diags)  # reads module.yaml too, so not a step rule
    if not per_step:
        for rule in STEP_RULES:
            rule(program, diags)
        return
    for module in program.modules:
        for step in module.steps:
            diags.add_items(step_findings(program, module, step, diags.silenced))


def step_check_key(program: Program, step: Step, silenced: Iterable[str]) -> tuple:
    """What the step rules' findings for one step depend on besides its body: its path and
    metadata, the program's readability settings and language (issue 18) and the codes it silences."""
    settings = (program.meta.readability.model_dump_json(), program.meta.language, tuple(sorted(silenced)))
    return (step.path, step.meta.model_dump_json(), settings)


def step_findings(program: Program, module: Module, step: Step, silenced: frozenset[str]) -> list[Diagnostic]:
    """The step rules' findings for one step, kept with its body (`derived.checks`) by `step_check_key`."""
    key = step_check_key(program, step, silenced)
    found = step.body.derived.checks.get(key)
    if found is None:
        one = Diagnostics(silenced=silenced)
        alone = replace(program, modules=[replace(module, steps=[step])])
        for rule in STEP_RULES:
            rule(alone, one)
        found = step.body.derived.checks[key] = one.items
    return found
