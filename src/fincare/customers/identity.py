"""Validation and normalisation of Chinese identifiers and contact data.

Resident ID numbers follow GB 11643-1999 (ISO 7064 MOD 11-2 check character); unified social
credit codes follow GB 32100-2015 (MOD 31 check character); bank-card numbers pass the Luhn check.
Each function returns the normalised value or raises `Invalid` naming the field.
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul
from typing import NamedTuple

from fincare.platform.errors import Invalid
from fincare.platform.masking import mask_card, mask_id_number, mask_phone

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII: a blind index matches one spelling only
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}$")
# Compiled once: a bulk import checks millions of values, and `re`'s own cache costs a lookup per call.
_ID_FORM = re.compile(r"[0-9]{17}[0-9X]")
_PHONE_NOISE = re.compile(r"[\s\-()]")
_CARD_NOISE = re.compile(r"[\s\-]")
_CARD_FORM = re.compile(r"[0-9]{12,19}")
# ASCII digits as bytes are 48 + d: Σ d·w = Σ byte·w - 48·Σ w, and the Luhn double of a digit is a byte table.
_ID_OFFSET = 48 * sum(_ID_WEIGHTS)
_LUHN_DOUBLE = bytes(48) + bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)) + bytes(198)
# In free text: runs of digits, possibly in groups split by one separator as people type them (a
# space: ASCII, no-break or the ideographic one of Chinese input methods; a dash: ASCII or
# full-width), and 18-character ID numbers. A run never starts right after a mask's `*`, so
# redacting text twice changes nothing more. Only runs of 13 digits or more can hold a card: a
# shorter one (an amount, an order number) is not even handed to `_masked_cards`.
_SEPARATORS = " \u00a0\u3000\\-\uff0d"
_DIGIT_RUN = re.compile(rf"(?<![\d*])\d(?:[{_SEPARATORS}]?\d){{12,}}(?!\d)")
_GROUP_SEPARATOR = re.compile(rf"([{_SEPARATORS}])")
_ID_IN_TEXT = re.compile(r"(?<![\d*])\d{17}[\dXx\uff38\uff58](?!\d)")
# A mainland mobile number in free text: eleven digits, at most two separators between two of them
# (a dot too: `138.1234.5678`), perhaps after +86, with no digit right before or after (a longer
# run is some other number) and not the decimals of an amount.
_PHONE_SEPARATORS = _SEPARATORS + "."
_PHONE_IN_TEXT = re.compile(rf"(?<![\d*])(?<!\d\.)(?P<prefix>(?:\+|00)?86[{_PHONE_SEPARATORS}]{{0,2}})?"
                            rf"(?P<number>\d(?:[{_PHONE_SEPARATORS}]{{0,2}}\d){{10}})(?!\d)")
_NOT_DIGIT = re.compile(r"\D")
_FULL_WIDTH = str.maketrans("\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff38\uff58"
                            "\uff0b\uff0d\uff08\uff09", "0123456789XX+-()")


class ResidentId(NamedTuple):  # a tuple: made per row of a bulk import, at half a frozen dataclass's cost
    number: str
    birth_date: date
    gender: str  # "male" / "female", from the parity of the sequence code


def resident_id(value: str, *, field: str = "id_number") -> ResidentId:
    """An 18-character resident ID number with a valid birth date and check character; full-width
    digits (as Chinese input methods type them) are read as ASCII ones."""
    number = value.strip().upper()
    if not number.isascii():
        number = number.translate(_FULL_WIDTH)
    if not _ID_FORM.fullmatch(number):
        raise Invalid("a resident ID number has 17 digits and a check digit or X", field=field)
    if _ID_CHECK[(sum(map(mul, number[:17].encode(), _ID_WEIGHTS)) - _ID_OFFSET) % 11] != number[17]:
        raise Invalid("the resident ID number's check digit is wrong", field=field)
    try:
        born = date.fromisoformat(number[6:14])  # eight ASCII digits: read only as YYYYMMDD
    except ValueError:
        raise Invalid("the resident ID number holds no valid birth date", field=field) from None
    if born.year < 1900 or born > date.today():
        raise Invalid("the resident ID number's birth date is out of range", field=field)
    return ResidentId(number, born, "male" if int(number[16]) % 2 else "female")


def resident_id_check_char(first17: str) -> str:
    """The check character for 17 digits (used to make valid test and demo numbers)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def credit_code(value: str, *, field: str = "credit_code") -> str:
    """An 18-character unified social credit code (统一社会信用代码) with a valid check character."""
    code = value.strip().upper()
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        raise Invalid("a unified social credit code has 18 characters of 0-9 and A-Y (no I, O, S, V, Z)",
                      field=field)
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    if _USCC_ALPHABET[(31 - total % 31) % 31] != code[17]:
        raise Invalid("the unified social credit code's check character is wrong", field=field)
    return code


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def mobile(value: str, *, field: str = "phone") -> str:
    """A mainland mobile number, 11 digits starting 13-19; +86 / 0086 and separators are removed,
    full-width digits read as ASCII ones."""
    digits = value.strip()
    if not digits.isascii():
        digits = digits.translate(_FULL_WIDTH)
    digits = _PHONE_NOISE.sub("", digits)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    if not _MOBILE.match(digits):
        raise Invalid("a mainland mobile number has 11 digits and starts with 13-19", field=field)
    return digits


def email(value: str, *, field: str = "email") -> str:
    """An e-mail address, lower-cased (the blind index must match however it was typed)."""
    address = value.strip().lower()
    if len(address) > 254 or not _EMAIL.match(address):
        raise Invalid("this is not an e-mail address", field=field)
    return address


def bank_card(value: str, *, field: str = "card_number") -> str:
    """A bank-card number of 12-19 digits passing the Luhn check; spaces and dashes removed,
    full-width digits read as ASCII ones."""
    digits = value.strip()
    if not digits.isascii():
        digits = digits.translate(_FULL_WIDTH)
    digits = _CARD_NOISE.sub("", digits)
    if not _CARD_FORM.fullmatch(digits):
        raise Invalid("a bank-card number has 12 to 19 digits", field=field)
    if not luhn_valid(digits):
        raise Invalid("the bank-card number fails the Luhn check", field=field)
    return digits


def luhn_valid(digits: str) -> bool:
    if digits.isascii() and digits.isdigit():  # the usual case, in C: digits from the right, every second doubled
        raw = digits.encode()
        kept = raw[-1::-2]
        return (sum(kept) - 48 * len(kept) + sum(raw[-2::-2].translate(_LUHN_DOUBLE))) % 10 == 0
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial` + digit pass the Luhn check."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise AssertionError("unreachable")


def redact_identifiers(text: str) -> str:
    """`text` with every bank-card and resident ID number in it replaced by its mask.

    Free text (a complaint's description, a reply, a follow-up note, a survey comment) is stored
    and shown as typed; a card or ID number in it would be one in clear on every screen, export and
    backup, where the customer record keeps the same numbers encrypted. Redaction is irreversible
    (as PCI DSS asks of a card number kept without need): the customer record holds the real ones.
    Only what passes the checks a customer's number must pass is touched — an ID number with its
    check character and birth date, a card number of 13-19 digits starting 3-6 (the issuer
    industries of payment cards) with its Luhn digit — so order and transaction numbers stay.
    """
    return _DIGIT_RUN.sub(_masked_cards, _ID_IN_TEXT.sub(_masked_id, text))


def redact_phones(text: str) -> str:
    """`text` with every mainland mobile number in it masked as the customer record shows one
    (`138****5678`), for free text read by staff who may not see a customer's contact details (a
    survey comment on the results page). Redacting twice changes nothing more."""
    out: list[str] = []
    kept = searched = 0
    while (match := _PHONE_IN_TEXT.search(text, searched)) is not None:
        digits = _NOT_DIGIT.sub("", match["number"]).translate(_FULL_WIDTH)
        if _MOBILE.fullmatch(digits):
            out += (text[kept:match.start("number")], mask_phone(digits))
            kept = searched = match.end()
        else:  # eleven digits that are no mobile: one may still start inside them (`2026 138 1234 5678`)
            searched = match.start() + 1
    out.append(text[kept:])
    return "".join(out)


def _masked_id(match: re.Match[str]) -> str:
    try:
        return mask_id_number(resident_id(match.group()).number)
    except Invalid:
        return match.group()


def _masked_cards(match: re.Match[str]) -> str:
    """The run with its card numbers masked: the whole run, or else card-shaped groups of it (a card
    typed next to another number: `6222 0212 3456 7894 2026-11`, `流水 4000123456 6222 0212 …`)."""
    run = match.group()
    if _is_card(digits := _GROUP_SEPARATOR.sub("", run)):
        return mask_card(digits)
    parts = _GROUP_SEPARATOR.split(run)  # groups at even positions, separators between
    groups = parts[::2]
    out: list[str] = []
    first = 0
    while first < len(groups):
        before = "" if first == 0 else parts[2 * first - 1]
        end = _card_from(groups, first)
        if end is None:
            out.append(before + groups[first])
            first += 1
        else:
            out.append(before + mask_card("".join(groups[first:end + 1])))
            first = end + 1
    return "".join(out)


def _card_from(groups: list[str], first: int) -> int | None:
    """The last group of the longest card number starting at group `first`: a group of 13-19 digits,
    or groups of four digits and a last one of one to four (how cards are printed and typed) — so
    a number typed just before a card is never taken for its first digits."""
    if len(groups[first]) >= 13:
        return first if _is_card(groups[first]) else None
    found = None
    end = first + 1
    while end < len(groups) and len(groups[end - 1]) == 4 and 4 * (end - first) + 1 <= 19:
        length = 4 * (end - first) + len(groups[end])
        if 13 <= length <= 19 and len(groups[end]) <= 4 and _is_card("".join(groups[first:end + 1])):
            found = end
        end += 1
    return found


_CARD_INDUSTRIES = (3, 4, 5, 6)  # ISO/IEC 7812 major industry identifiers of payment cards


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and int(digits[0]) in _CARD_INDUSTRIES and luhn_valid(digits)


def name(value: str, *, field: str = "name") -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > 100:
        raise Invalid("a name has 1 to 100 characters", field=field)
    return cleaned


def address(value: str, *, field: str = "address") -> str:
    cleaned = " ".join(value.split())
    if len(cleaned) > 300:
        raise Invalid("an address has at most 300 characters", field=field)
    return cleaned
