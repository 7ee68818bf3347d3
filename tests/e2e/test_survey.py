"""The public survey page in a real browser on a 375-px phone screen: a customer opens the link from
their message, rates the service and leaves a comment, submits and is thanked; the same link
submitted again says "already answered" and writes nothing more. No horizontal scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import Engine, select

from fincare.followups import service
from fincare.followups.models import SurveyInvitation, SurveyResponse
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import Role
from tests.e2e.conftest import TIMEOUT_MS
from tests.factories.accounts import make_staff
from tests.factories.customers import make_customer
from tests.factories.followups import deliver_resolutions, resolved_complaint

pytestmark = pytest.mark.e2e

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A phone-sized browser with a phone's pixel density and touch, no cookies."""
    ctx = browser.new_context(base_url=live_server, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                              has_touch=True, locale="zh-CN")
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


def survey_link(client: TestClient) -> str:
    """The path of the survey link a complainant receives once their complaint is resolved."""
    handler = make_staff("specialist_chen", Role.COMPLAINT_SPECIALIST)
    customer_id = make_customer(email="wang.fang@example.com").id
    resolved_complaint(client, handler, customer_id)
    deliver_resolutions()
    with unit_of_work(read_only=True) as session:
        invitation = session.execute(select(SurveyInvitation)).scalar_one()
        assert service.link_of(invitation).endswith(f"/s/{service.token_of(invitation)}")
        return f"/s/{service.token_of(invitation)}"


def responses() -> list[SurveyResponse]:
    with unit_of_work(read_only=True) as session:
        return list(session.execute(select(SurveyResponse)).scalars())


def assert_no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


def test_a_customer_answers_a_survey_on_a_phone_and_a_second_submit_says_already_answered(
        phone: BrowserContext, client: TestClient, db: Engine) -> None:
    link = survey_link(client)
    page = phone.new_page()
    second_tab = phone.new_page()  # the same link left open in another tab
    page.goto(link)
    second_tab.goto(link)

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("服务满意度调查")
    csat = page.locator('[data-question="csat"]')
    expect(csat.locator("legend")).to_contain_text("您对本次服务的总体满意度如何？")
    assert_no_horizontal_scroll(page)

    csat.locator("label.scale-point", has=page.locator('input[value="4"]')).click()
    expect(csat.locator('input[value="4"]')).to_be_checked()
    page.locator('textarea[name="answers.comment"]').fill("客服很耐心，处理也及时。")
    assert_no_horizontal_scroll(page)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "e2e-survey-375.png"), full_page=True)

    with page.expect_navigation():
        page.locator("[data-testid=survey-submit]").click()
    expect(page.locator("[data-testid=survey-thanks]")).to_be_visible()
    expect(page.locator("h1")).to_have_text("谢谢")
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(RESULTS / "e2e-survey-375-thanks.png"), full_page=True)
    [answer] = responses()
    assert (answer.csat, answer.nps, answer.comment) == (4, None, "客服很耐心，处理也及时。")

    # the same link submitted again, from the tab left open: nothing more is written
    second_tab.locator('[data-question="csat"] label.scale-point', has=second_tab.locator('input[value="1"]')).click()
    with second_tab.expect_navigation():
        second_tab.locator("[data-testid=survey-submit]").click()
    expect(second_tab.locator("[data-testid=survey-already]")).to_be_visible()
    expect(second_tab.locator("h1")).to_have_text("您已提交过")
    assert_no_horizontal_scroll(second_tab)
    assert [(r.csat, r.comment) for r in responses()] == [(4, "客服很耐心，处理也及时。")]

    # and opening the link again shows the same page, without the questions
    page.goto(link)
    expect(page.locator("[data-testid=survey-already]")).to_be_visible()
    expect(page.locator("[data-testid=survey-form]")).to_have_count(0)
