"""Console forms: reading a submitted form and showing a refusal next to the field at fault.

Shared by every domain's `views.py`, so a form behaves the same on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from fincare.platform.errors import DomainError
from fincare.platform.text import refuse_control


async def _form(request: Request) -> FormData:
    return await request.form()  # already read (and cached) by the CSRF check


Submitted = Annotated[FormData, Depends(_form)]


def text(form: FormData, name: str) -> str:
    """A field's value, trimmed; "" when missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def plain(typed: dict[str, str]) -> None:
    """Refuse a control character (a crafted form), naming the field it was in."""
    for name, value in typed.items():
        refuse_control(value, name)



@dataclass(frozen=True)
class FormError:
    """A refused form: which form of the page, the field at fault ("cards.2" → "cards"), the message."""

    form: str
    field: str | None
    message: str
    status_code: int

    @classmethod
    def of(cls, form: str, exc: DomainError) -> FormError:
        return cls(form, exc.field.split(".")[0] if exc.field else None, exc.message, exc.status_code)
