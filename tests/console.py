"""Driving the console in tests: sign in, read the CSRF token, post a form as a browser would."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from tests.factories.accounts import totp_code
from tests.platform.test_accounts import CSRF, login


def csrf(page: Response) -> str:
    return CSRF.search(page.text).group(1)  # type: ignore[union-attr]


def sign_in(client: TestClient, username: str, *, two_factor: bool = False, english: bool = True) -> None:
    """Sign in, with the one-time code when the role needs it; read the console in English unless told not to."""
    assert login(client, username).status_code == 303
    if two_factor:
        page = client.get("/login/2fa")
        done = client.post("/login/2fa", data={"code": totp_code(username), "csrf_token": csrf(page)},
                           follow_redirects=False)
        assert done.headers["location"] == "/"
    if english:
        client.get("/?lang=en")


def post_form(client: TestClient, path: str, data: dict[str, str | list[str]], *, page: str = "/") -> Response:
    """Submit a form with the session's CSRF token, read from `page` as the browser would have it."""
    return client.post(path, data={**data, "csrf_token": csrf(client.get(page))}, follow_redirects=False)
