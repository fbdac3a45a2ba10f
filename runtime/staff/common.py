"""What every staff page shares: the staff navigation, the unit switcher, and page rendering.

`render_staff` is `runtime.web.render` plus the staff navigation (`runtime.views.staff_nav`:
links the roles allow, the unit the session acts in and the other units the person has roles in).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse

from runtime.views import staff_nav
from runtime.web import Ctx, render


def render_staff(ctx: Ctx, template: str, current: str = "", status: int = 200, **values: Any) -> HTMLResponse:
    """A staff page: the template (which extends staff/layout.html) with the staff navigation."""
    return render(ctx, template, status=status, staff_nav=staff_nav(ctx, current), **values)
