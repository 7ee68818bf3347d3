"""Every route needs authentication and a permission, except the documented public list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from fincare.app import PUBLIC_ROUTES
from fincare.platform.http import guarded_permission
from fincare.platform.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.factories.accounts import make_staff


def permissions_of_route(route: APIRoute) -> set[Permission]:
    found: set[Permission] = set()
    stack: list[Any] = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None and (permission := guarded_permission(dependant.call)) is not None:
            found.add(permission)
        stack.extend(dependant.dependencies)
    return found


def app_routes(app) -> list[APIRoute]:  # type: ignore[no-untyped-def]
    return [r for r in app.routes if isinstance(r, APIRoute)]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_the_public_ones_declares_a_permission(app) -> None:  # type: ignore[no-untyped-def]
    unguarded = [f"{sorted(r.methods)} {r.path}" for r in app_routes(app)
                 if r.path not in PUBLIC_ROUTES and not permissions_of_route(r)]
    assert unguarded == []


def test_public_routes_are_few_and_guard_free(app) -> None:  # type: ignore[no-untyped-def]
    public = {r.path for r in app_routes(app) if r.path in PUBLIC_ROUTES}
    assert public <= PUBLIC_ROUTES
    assert all(not permissions_of_route(r) for r in app_routes(app) if r.path in PUBLIC_ROUTES)


def test_every_guarded_route_refuses_an_anonymous_caller(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    for route in app_routes(app):
        if route.path in PUBLIC_ROUTES:
            continue
        for method in route.methods:
            response = client.request(method, concrete(route.path), follow_redirects=False)
            if route.path.startswith("/api/"):
                assert response.status_code == 401, f"{method} {route.path}"
            else:
                assert response.status_code == 303, f"{method} {route.path}"
                assert response.headers["location"].startswith("/login"), f"{method} {route.path}"


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_every_api_route_its_permissions_do_not_cover(client: TestClient, app,  # type: ignore[no-untyped-def]
                                                                          role: Role) -> None:
    staff = make_staff(f"persona_{role.value}", role, department="it")
    granted = ROLE_PERMISSIONS[role]
    checked = 0
    for route in app_routes(app):
        needed = permissions_of_route(route)
        if not route.path.startswith("/api/") or not needed or needed <= granted:
            continue
        for method in route.methods:
            response = client.request(method, concrete(route.path), headers=staff.headers, json={})
            assert response.status_code == 403, f"{role} {method} {route.path}: {response.status_code}"
            assert response.json()["error"]["code"] == "forbidden"
            checked += 1
    if role is not Role.ADMIN:
        assert checked > 0  # every role but admin lacks something the API offers


def test_console_pages_refuse_roles_without_the_permission(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from tests.platform.test_accounts import login

    make_staff("agent_x", Role.AGENT)
    login(client, "agent_x")
    for path in ("/audit", "/admin/jobs", "/admin/staff"):
        response = client.get(path)
        assert response.status_code == 403, path
    assert client.get("/").status_code == 200
