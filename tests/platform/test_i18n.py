"""Console languages: every message the console can show has a Simplified Chinese translation,
Chinese is the default, and English is a switch (query, cookie, then the account's preference)."""

from __future__ import annotations

import ast
import json
import pickle
import re
import string
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fincare.customers.models import CustomerStatus, RightsRequestKind, RightsRequestStatus
from fincare.platform import i18n
from fincare.platform.accounts import service
from fincare.platform.accounts.models import StaffAccount
from fincare.platform.db import unit_of_work
from fincare.platform.errors import Invalid, Label, Message
from fincare.platform.jobs.models import JobState
from fincare.platform.outbox.models import MessageStatus
from fincare.platform.permissions import Principal, Role
from fincare.servicedesk.models import CodeDimension, TicketStatus
from fincare.servicedesk.service.resolution import ROUTES, Language
from tests.console import sign_in
from tests.factories.accounts import Staff
from tests.platform.test_accounts import csrf_of, login

SRC = Path(i18n.__file__).resolve().parent.parent  # src/fincare
CATALOGUE_FILE = Path(i18n.__file__).resolve().parent / "locale" / "zh-CN.json"
# `_("literal")` or `_('literal')` with nothing else inside the call (so `_("role:" ~ role)` is not one).
LITERAL_MSGID = re.compile(r"""\b_\(\s*(?P<q>["'])(?P<msgid>(?:(?!(?P=q)).)*)(?P=q)\s*\)""", re.DOTALL)
# Services whose DomainError messages reach console pages (login, 2FA, password, error page).
ERROR_CLASSES = {"DomainError", "Unauthenticated", "Forbidden", "NotFound", "Conflict", "Invalid", "TooLarge",
                 "Locked", "LoginRequired", "SecondFactorRequired", "PasswordChangeRequired", "Gone",
                 "UnknownTemplate", "MissingParameter"}


def zh() -> dict[str, str]:
    return json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def template_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.html") if "templates" in p.relative_to(SRC).parts)


def template_msgids() -> set[str]:
    return {m["msgid"] for path in template_files() for m in LITERAL_MSGID.finditer(path.read_text("utf-8"))}


def _calls(names: set[str]) -> list[tuple[Path, ast.Call]]:
    """Every call, anywhere in FinCare, of one of these names (`Invalid(…)`, `errors.Message(…)`)."""
    found = []
    for source in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) in names
                                               or getattr(node.func, "attr", None) in names):
                found.append((source, node))
    return found


def _literals(node: ast.expr | None) -> list[str]:
    """The texts a first argument can be: a string, or either string of `"a" if … else "b"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _first(node: ast.Call) -> ast.expr | None:
    return node.args[0] if node.args else None


def error_messages() -> set[str]:
    """The messages of the domain errors raised anywhere in FinCare, and the templates of those with
    values in them (`Message`): any of them may reach a console page."""
    return {text for _, node in _calls(ERROR_CLASSES | {"Message"}) for text in _literals(_first(node))}


# The coded values a message may hold (`Label(kind, value)`), with every value they can take.
LABELLED = {"ticket_status": TicketStatus, "job": JobState, "message_status": MessageStatus,
            "customer_status": CustomerStatus, "rights_status": RightsRequestStatus,
            "rights_kind": RightsRequestKind, "code_dimension": CodeDimension,
            "appeal_route": ROUTES[Language.EN].keys()}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# -- the catalogue ---------------------------------------------------------------------------------


def test_the_catalogue_is_sorted_readable_chinese_with_placeholders_intact() -> None:
    raw = CATALOGUE_FILE.read_text(encoding="utf-8")
    table = json.loads(raw)
    assert raw == json.dumps(table, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for msgid, text in table.items():
        assert cjk.search(text), f"not translated into Chinese: {msgid!r} → {text!r}"
        assert placeholders(text) == placeholders(msgid), f"placeholders differ: {msgid!r} → {text!r}"


def test_the_template_scan_finds_templates_and_messages() -> None:
    files = {p.name for p in template_files()}
    assert {"base.html", "login.html", "home.html", "error.html"} <= files
    found = template_msgids()
    assert {"Sign in", "Main", "Welcome, {name}"} <= found
    assert not any(m.startswith(("role:", "job:")) for m in found)  # dynamic ids are checked separately


def test_every_template_message_is_translated() -> None:
    table = zh()
    missing = sorted(m for m in template_msgids() if m not in table)
    assert not missing, f"untranslated template messages: {missing}"


def test_every_role_and_job_state_is_translated() -> None:
    table = zh()
    missing = [f"role:{r}" for r in Role if f"role:{r}" not in table]
    missing += [f"job:{s}" for s in JobState if f"job:{s}" not in table]
    assert not missing, f"untranslated: {missing}"


def test_every_menu_entry_is_translated() -> None:
    from fincare.app import create_app
    from fincare.platform import web

    create_app()  # imports every domain's views module, which registers its menu entries
    labels = {item.label for item in web._nav}
    assert {"Home", "Audit trail"} <= labels
    missing = sorted(label for label in labels if label not in zh())
    assert not missing, f"untranslated menu entries: {missing}"


def test_every_role_description_on_the_home_page_is_translated() -> None:
    from fincare.platform.accounts.views import _role_homes

    everyone = Principal.of(account_id=1, username="x", roles=frozenset(Role), department_id=None)
    missing = [text for _, text in _role_homes(everyone) if text not in zh()]
    assert not missing, f"untranslated role descriptions: {missing}"


def test_every_console_error_message_is_translated() -> None:
    messages = error_messages()
    assert {"wrong username or password", "please sign in"} <= messages
    assert {"at most {limit} characters", "a ticket that is {current} cannot become {target}"} <= messages
    with pytest.raises(Invalid) as short:  # the template of what a user actually sees
        service.check_password_strength("short")
    assert isinstance(short.value.message, Message) and short.value.message.template in messages
    missing = sorted(m for m in messages if m not in zh())
    assert not missing, f"untranslated error messages: {missing}"


def test_no_error_message_is_an_f_string_which_the_console_could_not_translate() -> None:
    formatted = [f"{path.relative_to(SRC)}: {ast.unparse(node.args[0])}"
                 for path, node in _calls(ERROR_CLASSES | {"Message"})
                 if node.args and any(isinstance(n, ast.JoinedStr) for n in ast.walk(node.args[0]))]
    # the one kept: "… (permission)", translated as a sentence with a bracketed detail
    assert formatted == ["platform/http.py: f'your role does not allow this ({permission})'"], formatted


def test_every_coded_value_in_a_message_has_its_label_in_both_languages() -> None:
    kinds = {text for _, node in _calls({"Label"}) for text in _literals(_first(node))}
    assert kinds == set(LABELLED), kinds
    for language in ("zh-CN", "en"):
        table = i18n.catalogue(language)
        missing = [f"{kind}:{value}" for kind, enum in LABELLED.items() for value in enum
                   if f"{kind}:{value}" not in table]
        assert not missing, f"{language}: no label for {missing}"


def test_a_message_with_values_is_translated_with_its_values_and_labels() -> None:
    chinese, english = i18n.translator("zh-CN"), i18n.translator("en")
    limit = Message("at most {limit} characters", limit=60)
    assert limit == "at most 60 characters"  # the API, the CLI and the logs read English
    assert chinese(limit) == "最多 60 个字符" and english(limit) == "at most 60 characters"
    status = Message("this request is already {status}", status=Label("rights_status", "refused"))
    assert chinese(status) == "此申请已处于“已拒绝”状态" and english(status) == "this request is already refused"
    routes = Message("the reply must tell the complainant of these routes: {routes}",
                     routes=Label("appeal_route", "mediation", "litigation"))
    assert routes == "the reply must tell the complainant of these routes: mediation, litigation"
    assert chinese(routes) == "答复须告知投诉人以下途径：调解、诉讼"
    # made in an import worker process, it reaches the writer through pickle whole
    for message in (status, routes):
        again = pickle.loads(pickle.dumps(message))  # noqa: S301 - our own bytes
        assert again == message and chinese(again) == chinese(message)
    assert chinese(Message("no such sentence {x}", x=1)) == "no such sentence 1"


def test_a_malformed_query_on_a_console_page_is_refused_in_chinese(client: TestClient, agent_li: Staff) -> None:
    from fincare.platform.http import _VALIDATION_MESSAGES

    missing = sorted({template for template, _ in _VALIDATION_MESSAGES.values()} - set(zh()))
    assert not missing, f"untranslated validation messages: {missing}"
    sign_in(client, "agent_li", english=False)
    for query, shown in (("before_id=abc", "须为整数"), ("before_id=0", "不能小于 1"),
                         ("kind=" + "x" * 17, "最多 16 个字符")):
        page = client.get(f"/customers?{query}")
        assert page.status_code == 400 and shown in page.text, query
    english = client.get("/customers?before_id=0&lang=en")
    assert english.status_code == 400 and "at least 1" in english.text


def test_an_unknown_message_falls_back_to_english() -> None:
    translate = i18n.translator("zh-CN")
    assert translate("Sign in") == "登录"
    assert translate("no such message, surely") == "no such message, surely"
    # a known sentence with a detail in brackets (a permission, a value): the sentence translated
    assert translate("your role does not allow this (customer.reveal)") == "您的角色无权执行此操作（customer.reveal）"
    assert translate("no such message (x)") == "no such message (x)"
    assert i18n.translator("en")("Sign in") == "Sign in"


# -- the console -----------------------------------------------------------------------------------


def test_the_console_is_chinese_by_default_and_english_on_request(
    client: TestClient, app, agent_li: Staff  # type: ignore[no-untyped-def]
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text and "登录" in page.text and "Sign in" not in page.text

    english = client.get("/login?lang=en")
    assert 'lang="en"' in english.text and "Sign in" in english.text and "登录" not in english.text
    assert client.cookies.get("fincare_lang") == "en"
    assert "Sign in" in client.get("/login").text  # the cookie keeps it English

    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "Not found" in missing.text

    # Signed in (no language cookie): Chinese until the user switches, then English for good.
    client.cookies.clear()
    assert login(client, "agent_li").status_code == 303
    home = client.get("/")
    assert "欢迎您，agent_li" in home.text and "客服专员" in home.text
    switched = client.post("/preferences/language", data={"language": "en", "back": "/",
                                                          "csrf_token": csrf_of(client)}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    home = client.get("/")
    assert "Welcome, agent_li" in home.text and "欢迎" not in home.text
    with unit_of_work() as session:
        account = session.get(StaffAccount, agent_li.id)
        assert account is not None and account.language == "en"

    # A fresh browser with no cookies: the stored preference decides once signed in.
    with TestClient(app, base_url="http://testserver") as fresh:
        assert "登录" in fresh.get("/login").text
        assert login(fresh, "agent_li").status_code == 303
        assert "fincare_lang" not in fresh.cookies
        home = fresh.get("/")
        assert 'lang="en"' in home.text and "Welcome, agent_li" in home.text and "Sign out" in home.text


def test_a_chinese_error_page_translates_the_error_message(client: TestClient, db: Engine) -> None:
    wrong = client.post("/login", data={"username": "nobody", "password": "wrong-password-here",
                                         "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert "登录表单已过期，请重试" in wrong.text


def test_coded_labels_read_as_words_in_english_too() -> None:
    from fincare.platform.i18n import translator

    english = translator("en")
    assert english("role:complaint_specialist") == "Complaint specialist"
    assert english("job:parked") == "Parked"
    assert english("Sign in") == "Sign in"


def test_customers_messages_and_replies_know_exactly_the_console_s_languages() -> None:
    from fincare.customers.service import LANGUAGES as CUSTOMER_LANGUAGES
    from fincare.platform.outbox.templates import LANGUAGES as MESSAGE_LANGUAGES

    console = list(i18n.LANGUAGES)
    assert console[0] == i18n.DEFAULT == "zh-CN"
    assert list(CUSTOMER_LANGUAGES) == list(MESSAGE_LANGUAGES) == [str(language) for language in Language] == console
