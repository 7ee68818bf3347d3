"""The demo institution: every role can sign in, customers are valid, and a re-run reuses it."""

from sqlalchemy import Engine

from fincare.customers import service
from fincare.demo import DEMO_PASSWORD, ensure_demo
from fincare.platform.db import unit_of_work
from fincare.platform.permissions import SYSTEM, Role


def test_the_demo_has_every_role_and_is_reused_on_a_second_run(db: Engine) -> None:
    logins = ensure_demo(customers=60, seed=3)
    assert {role for login in logins for role in login.roles} == {r.value for r in Role}
    assert all(login.password == DEMO_PASSWORD for login in logins)
    assert {login.username for login in logins if login.two_factor} == {
        "security_sun", "compliance_qian", "auditor_zhao", "admin"}
    again = ensure_demo(customers=60, seed=3)
    assert [login.username for login in again] == [login.username for login in logins]
    with unit_of_work(read_only=True) as session:
        assert service.count_customers(session) == 60
        sample = service.list_customers(session, actor=SYSTEM, limit=5)
        assert all("*" in c.name_mask or c.kind != "individual" for c in sample)
