"""Console languages: Simplified Chinese (default) and English.

Messages are written in English in the code and templates (`_("Sign in")`) and translated from
the catalogue `locale/zh-CN.json`; an untranslated message shows in English rather than breaking.
Coded labels (`role:agent`, `job:parked`) are msgids too, so `locale/en.json` names them in English.
An error message with values in it is an `errors.Message`: its template is the msgid, and a coded
value in it (`errors.Label`) shows as its label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from fincare.platform.errors import Label, Message

LANGUAGES = {"zh-CN": "简体中文", "en": "English"}
DEFAULT = "zh-CN"
_LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=4)
def catalogue(language: str) -> dict[str, str]:
    path = _LOCALE_DIR / f"{language}.json"
    if not path.exists():  # English msgids are English already; en.json only names coded labels
        return {}
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def normalise(language: str | None) -> str | None:
    """'zh', 'zh_CN', 'zh-cn' → 'zh-CN'; 'en-US' → 'en'; anything else → None."""
    if not language:
        return None
    tag = language.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


_LIST_SEPARATORS = {"zh-CN": "、"}  # between the items of a list in a sentence
_DETAIL = re.compile(r"(?P<message>.+) \((?P<detail>[^()]+)\)")


def translator(language: str) -> Callable[[str], str]:
    """`_` for one language; `_("Hello {name}").format(name=...)` keeps placeholders intact."""
    table = catalogue(language)
    separator = _LIST_SEPARATORS.get(language, ", ")

    def labelled(label: Label) -> str:  # each value as its label, joined as the language joins a list
        return separator.join(table.get(f"{label.kind}:{value}", value) for value in label.values)

    def translate(message: str) -> str:
        if isinstance(message, Message) and message.params:
            # the template translated, its values filled in: "at most {limit} characters" → "最多 200 个字符"
            template = table.get(message.template)
            return message if template is None else template.format(**{
                name: labelled(value) if isinstance(value, Label) else value for name, value in message.params.items()})
        found = table.get(message)
        if found is None and (detail := _DETAIL.fullmatch(message)) and detail["message"] in table:
            # "your role does not allow this (customer.reveal)": the sentence translated, the detail kept
            return f"{table[detail['message']]}（{detail['detail']}）"
        return message if found is None else found

    return translate
