"""Which package files a patient may fetch: only the patient's parts of what they can see.

Input: an enrolment, its verified package and a package path. Output: yes or no.

The manifest says whom each file is for (`stegvis_package.model.FileEntry`). A patient
gets a file only when it is for patients and what it belongs to is visible in their
enrolment:
- a step's file (fragment, readout, cues, PDF): the step can be opened (its module is
  current, the step is not hidden);
- a module's file (its PDF, which prints every step of the module): the module is current
  and none of its steps is hidden for this patient;
- a media file that steps show: at least one of those steps can be opened;
- a program-wide patient file (stylesheet, readout player, brochure, form images): always.
Staff-only files (program.json, the therapist guide, the whole-program PDF, reviewers'
pages, FHIR) and the sources never reach a patient, and neither does anything the
manifest does not list. A translation package's files follow the same rules, with what is
visible decided on the enrolment's base package (its steps and modules have the same ids). The staff preview asks the same question for the patient it shows.
"""

from __future__ import annotations

from runtime.enrolments import readable_modules, step_choices, step_readable, step_visible
from runtime.models import Enrolment
from runtime.packages import Package
from stegvis_package.model import Audience


def patient_may_fetch(enrolment: Enrolment, package: Package, rel: str, base: Package | None = None) -> bool:
    """Whether the enrolment's patient may have this package file.

    `package` is the package the file is in; `base` the enrolment's own package when `package`
    is a translation of it (issue 18): then what is visible is decided on the base, and a step
    or module must be in both.
    """
    base = base or package
    entry = package.entry(rel)
    if entry is None or entry.audience is not Audience.PATIENT:
        return False
    if base is not package and entry.step is None and entry.module is None and entry.used_by is None:
        # A translation ships the base's media; one that only untranslated steps show has no scope in
        # the translation's manifest, but the base's (same path, same content hash) says whom it is for.
        from_base = base.entry(rel)
        if from_base is not None:
            if from_base.audience is not Audience.PATIENT:
                return False
            entry = from_base
    if entry.step is not None:
        return _step_open(enrolment, base, entry.step)
    if entry.module is not None:
        module = base.module(entry.module)
        if module is None or entry.module not in {m.module_id for m in readable_modules(enrolment)}:
            return False
        choices = step_choices(enrolment)
        return all(step_visible(enrolment, module["id"], step, choices)
                   for section in module.get("sections", []) for step in section.get("steps", []))
    if entry.used_by is not None:
        return any(_step_open(enrolment, base, key) for key in entry.used_by)
    return True


def _step_open(enrolment: Enrolment, base: Package, key: str) -> bool:
    module_id, _, step_id = key.partition("/")
    return step_readable(enrolment, base, module_id, step_id) is not None
