"""Stage 4, check: rules that span files, accessibility and readability.

Input: a validated `Program`. Output: diagnostics only; never changes the program.
"""

from __future__ import annotations

from builder.check.accessibility import check_accessibility
from builder.check.readability import check_language, check_readability
from builder.check.references import check_references
from builder.diagnostics import Diagnostics
from builder.validate import Program


def check_program(program: Program, diags: Diagnostics) -> None:
    """Run every cross-file, accessibility and readability rule."""
    check_references(program, diags)
    check_accessibility(program, diags)
    check_readability(program, diags)
    check_language(program, diags)
