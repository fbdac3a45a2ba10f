"""The staff side of the runtime (issue #9): pages for therapists and administrators under /personal.

Each area is a module with its own router; `router` gathers them for the app. Every
route takes `StaffDep` (a logged-in member of staff acting in a unit) and asks
`runtime.staff.access` whether the action is allowed before it reads patient data.
"""

from __future__ import annotations

from fastapi import APIRouter

from runtime.staff import profile

router = APIRouter(include_in_schema=False)
router.include_router(profile.router)
