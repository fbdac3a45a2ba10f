"""What every staff page shares: the staff navigation, the unit switcher, and page rendering.

`render_staff` is `runtime.web.render` plus the staff navigation (links the roles allow,
the unit the session acts in and the other units the person has roles in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from sqlalchemy import select

from runtime.models import Unit, UnitRole
from runtime.services.access import ROLE_NAMES, Action, allowed, roles
from runtime.web import Ctx, render


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str
    key: str


@dataclass(frozen=True)
class StaffNav:
    unit_name: str
    unit_id: int
    units: list[tuple[int, str]]  # every unit the person has a live role in
    role_names: list[str]
    links: list[NavLink]
    current: str


#: (key, href, label, action that must be allowed)
LINKS = [
    ("oversikt", "/personal", "Översikt", Action.overview),
    ("nytt", "/personal/moment/nytt", "Starta moment", Action.enrolment_start),
    ("flaggor", "/personal/flaggor", "Flaggor", Action.overview),
    ("behorigheter", "/personal/behorigheter", "Behörigheter", Action.roles_manage),
    ("gallring", "/personal/gallring", "Gallring", Action.purge),
    ("loggutdrag", "/personal/loggutdrag", "Loggutdrag", Action.access_log_extract),
    ("profil", "/personal/profil", "Min profil", None),
]


def staff_nav(ctx: Ctx, current: str) -> StaffNav:
    """The navigation for the staff member's roles in the session's unit."""
    units = list(ctx.db.execute(
        select(Unit.id, Unit.name).join(UnitRole, UnitRole.unit_id == Unit.id)
        .where(UnitRole.user_id == ctx.user.id, UnitRole.revoked_at.is_(None)).distinct().order_by(Unit.name)))
    names = dict((u.id, u.name) for u in units)
    mine = roles(ctx)
    links = [NavLink(href, label, key) for key, href, label, action in LINKS if action is None or allowed(ctx, action)]
    return StaffNav(unit_name=names.get(ctx.session.unit_id, ""), unit_id=ctx.session.unit_id,
                    units=[(u.id, u.name) for u in units], links=links, current=current,
                    role_names=[ROLE_NAMES[r] for r in sorted(mine, key=lambda r: list(ROLE_NAMES).index(r))])


def render_staff(ctx: Ctx, template: str, current: str = "", status: int = 200, **values: Any) -> HTMLResponse:
    """A staff page: the template (which extends staff/layout.html) with the staff navigation."""
    return render(ctx, template, status=status, staff_nav=staff_nav(ctx, current), **values)
