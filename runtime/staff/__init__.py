"""The staff side of the runtime (issue #9): pages for therapists and administrators under /personal.

Each area is a module with its own router; `router` gathers them for the app. Every
route takes `StaffDep` (a logged-in member of staff acting in a unit) and asks
`runtime.services.access` whether the action is allowed before it reads patient data.
"""

from __future__ import annotations

from fastapi import APIRouter

from runtime.staff import (
    admin,
    enrolment,
    flags,
    lifecycle,
    logextract,
    messages,
    overview,
    plans,
    preview,
    profile,
    review,
    support,
    timeline,
)

router = APIRouter(include_in_schema=False)
router.include_router(profile.router)
# Before any /personal/moment/{eid} route: /personal/moment/nytt must not be read as an id.
router.include_router(enrolment.router)
router.include_router(lifecycle.router)
router.include_router(preview.router)
router.include_router(admin.router)
router.include_router(logextract.router)
router.include_router(support.router)
for _area in (overview, flags, review, timeline, plans, messages):
    router.include_router(_area.router)
