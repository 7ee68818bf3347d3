"""Masks for personal data, applied by default wherever a value leaves the database in clear.

`138****5678`, `110***********1234`, `张*明`, `************1234`, `z***@example.com`.
"""

from __future__ import annotations

from typing import Any


def mask_phone(value: str) -> str:
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(value: str) -> str:
    v = value.strip()
    if len(v) < 8:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(value: str) -> str:
    v = value.strip()
    if len(v) <= 1:
        return "*"
    if len(v) == 2:
        return v[0] + "*"
    return v[0] + "*" * (len(v) - 2) + v[-1]


def mask_card(value: str) -> str:
    v = "".join(value.split())
    return "*" * max(len(v) - 4, 0) + v[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.strip().partition("@")
    if not domain:
        return mask_name(value)
    return (local[:1] or "*") + "***@" + domain


def mask_address(value: str) -> str:
    v = value.strip()
    keep = min(6, len(v) // 2)
    return v[:keep] + "*" * max(len(v) - keep, 0)


MASKS = {
    "phone": mask_phone,
    "mobile": mask_phone,
    "id_number": mask_id_number,
    "credit_code": mask_id_number,
    "name": mask_name,
    "full_name": mask_name,
    "card_number": mask_card,
    "bank_card": mask_card,
    "email": mask_email,
    "address": mask_address,
}


def mask_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of `doc` with every known personal field masked (idempotent on masked values)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, str) and key in MASKS and "*" not in value:
            out[key] = MASKS[key](value)
        elif isinstance(value, dict):
            out[key] = mask_fields(value)
        else:
            out[key] = value
    return out
