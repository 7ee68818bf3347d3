"""The console in a real browser: sign-in, language, two-factor, the audit trail, first login."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import Engine

from fincare.platform.accounts import service
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role
from tests.factories.accounts import PASSWORD, Staff, make_staff, totp_code

pytestmark = pytest.mark.e2e

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in and submit the sign-in form on the current page."""
    form = page.locator('form[action="/login"]')
    form.locator('input[name="username"]').fill(username)
    form.locator('input[name="password"]').fill(password)
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()


def wrong_code_for(username: str) -> str:
    """A well-formed six-digit code that is not valid in the ±30 s window the server accepts."""
    with unit_of_work() as session:
        account = service.get_account_by_username(session, username)
        assert account is not None
        secret = service.totp_secret(account)
    assert secret is not None
    totp = pyotp.TOTP(secret)
    step = int(time.time()) // totp.interval
    valid = {totp.at(s * totp.interval) for s in range(step - 2, step + 3)}
    return next(code for code in ("000000", "123456", "999999", "246802") if code not in valid)


def test_an_agent_signs_in_from_the_chinese_login_page_and_sees_only_their_pages(page: Page) -> None:
    make_staff("agent_wu", Role.AGENT)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('form[action="/login"]')).to_be_visible()

    sign_in(page, "agent_wu", PASSWORD)
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(page.locator("[data-testid=role-agent]")).to_be_visible()
    sidenav = page.locator("nav.sidenav")
    expect(sidenav.locator('a[href="/"]')).to_be_visible()  # the menu is there …
    expect(sidenav.locator('a[href="/audit"]')).to_have_count(0)  # … without the auditors' page

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "e2e-home.png"), full_page=True)


def test_the_language_switch_turns_the_console_english_and_it_stays_english(
        context: BrowserContext, page: Page) -> None:
    make_staff("agent_wu", Role.AGENT)
    page.goto("/login")
    sign_in(page, "agent_wu", PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    with page.expect_navigation():
        page.locator("[data-testid=lang-switch]").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-testid=role-agent]")).to_be_visible()

    fresh = context.new_page()
    fresh.goto("/")
    expect(fresh.locator("html")).to_have_attribute("lang", "en")
    expect(fresh.locator("[data-testid=lang-switch]")).to_have_text("简体中文")  # offers the way back


def test_an_auditor_passes_two_factor_and_verifies_the_audit_trail(page: Page, auditor_zhao: Staff) -> None:
    page.goto("/login")
    sign_in(page, auditor_zhao.username, auditor_zhao.password)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))
    form = page.locator('form[action="/login/2fa"]')

    form.locator('input[name="code"]').fill(wrong_code_for(auditor_zhao.username))
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    expect(page.locator("[role=alert]")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/2fa$"))

    form.locator('input[name="code"]').fill(totp_code(auditor_zhao.username))
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(page.locator("[data-testid=role-auditor]")).to_be_visible()

    page.locator('nav.sidenav a[href="/audit"]').click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    with page.expect_navigation():
        page.locator("[data-testid=verify]").click()
    result = page.locator("[data-testid=verify-result]")
    expect(result).to_be_visible()
    expect(result).to_have_class(re.compile(r"\balert-ok\b"))


def test_a_new_account_must_replace_its_one_time_password_before_anything_else(page: Page, db: Engine) -> None:
    with unit_of_work() as session:
        one_time = service.create_account(session, actor=SYSTEM, username="newbie_chen",
                                          roles=[Role.AGENT]).one_time_password

    page.goto("/login")
    sign_in(page, "newbie_chen", one_time)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    page.goto("/")  # every other page sends them back
    expect(page).to_have_url(re.compile(r"/account/password$"))

    form = page.locator('form[action="/account/password"]')
    form.locator('input[name="current_password"]').fill(one_time)
    form.locator('input[name="new_password"]').fill("my-own-password-2026")
    form.locator('input[name="confirm_password"]').fill("my-own-password-2026")
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(page.locator("[data-testid=role-agent]")).to_be_visible()
