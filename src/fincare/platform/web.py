"""The console's rendering: one Jinja environment, the language of the request, role navigation.

Domains keep templates in `<domain>/templates/` and address them as ``"<domain>/page.html"``;
shared layouts live in `fincare/web/templates/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from fincare.platform import i18n
from fincare.platform.config import get_settings
from fincare.platform.permissions import Permission, Principal

LANG_COOKIE = "fincare_lang"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


@dataclass(frozen=True)
class NavItem:
    """A console menu entry, shown to whoever holds `permission`."""

    label: str
    href: str
    permission: Permission
    order: int = 100


_nav: list[NavItem] = []
_template_dirs: dict[str, Path] = {}


def add_nav(item: NavItem) -> None:
    """Domains announce their pages here when their views module is imported."""
    if item not in _nav:
        _nav.append(item)
        _nav.sort(key=lambda n: (n.order, n.href))


def add_templates(prefix: str, directory: Path) -> None:
    _template_dirs[prefix] = directory
    environment.cache_clear()


def nav_for(actor: Principal | None) -> list[NavItem]:
    if actor is None:
        return []
    return [item for item in _nav if actor.can(item.permission)]


@lru_cache(maxsize=1)
def environment() -> Environment:
    loaders = [FileSystemLoader(WEB_DIR / "templates"),
               PrefixLoader({p: FileSystemLoader(d) for p, d in _template_dirs.items()})]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = local_time
    return env


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """A stored (UTC) time as staff read it, in FINCARE_TIMEZONE (`{{ t | local }}`); "—" for none."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def language_of(request: Request) -> str:
    """?lang= first, then the language cookie, then the signed-in user's preference, then the default."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if (lang := i18n.normalise(candidate)) is not None:
            return lang
    actor: Principal | None = getattr(request.state, "principal", None)
    if actor is not None:
        return actor.language
    return get_settings().language


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """Render a page (or, for an HTMX request, the same template's fragment if it has one)."""
    lang = language_of(request)
    actor: Principal | None = getattr(request.state, "principal", None)
    values = {
        "request": request,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "_": i18n.translator(lang),
        "actor": actor,
        "nav": nav_for(actor),
        "csrf_token": getattr(request.state, "csrf_token", None),
        "htmx": bool(request.headers.get("hx-request")),
        **(context or {}),
    }
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if (given := i18n.normalise(request.query_params.get("lang"))) is not None:
        response.set_cookie(LANG_COOKIE, given, max_age=365 * 86400, samesite="lax", httponly=True,
                            secure=request.url.scheme == "https")
    return response
