"""The one rule for text FinCare takes in, from the API, a console form, a survey or an import file:
no control character but line breaks and tabs. None is needed, some hide text from a reader, and
PostgreSQL cannot store a NUL at all."""

from __future__ import annotations

import re

from fincare.platform.errors import Invalid

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "control characters are not allowed"


def refuse_control(value: str, field: str) -> None:
    """Invalid naming `field` if `value` holds a control character."""
    if CONTROL.search(value):
        raise Invalid(CONTROL_MESSAGE, field=field)
