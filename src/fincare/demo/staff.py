"""The demo institution's staff: every role in its department, enough agents, complaint specialists,
follow-up agents and supervisors for routing and loads to look real, with product skills and, for
some, weekly shifts (early, late and weekend rosters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from sqlalchemy.orm import Session

from fincare.platform.accounts import service as accounts
from fincare.platform.permissions import SYSTEM, TWO_FACTOR_REQUIRED, Role
from fincare.workforce import service as workforce
from fincare.workforce.models import Skill

DEMO_PASSWORD = "fincare-demo"

# username, display name, role, department; the first of each role is the one the README names
STAFF: tuple[tuple[str, str, Role, str], ...] = (
    ("agent_li", "李娜", Role.AGENT, "customer_service"),
    ("specialist_chen", "陈静", Role.COMPLAINT_SPECIALIST, "customer_service"),
    ("followup_zhou", "周敏", Role.FOLLOWUP_AGENT, "customer_service"),
    ("supervisor_wang", "王强", Role.SUPERVISOR, "customer_service"),
    ("security_sun", "孙磊", Role.SECURITY_OFFICER, "security_office"),
    ("compliance_qian", "钱芳", Role.COMPLIANCE_OFFICER, "compliance"),
    ("marketing_wu", "吴婷", Role.MARKETING, "marketing"),
    ("hr_zheng", "郑丽", Role.HR, "hr"),
    ("exec_feng", "冯伟", Role.EXECUTIVE, "management"),
    ("auditor_zhao", "赵敏", Role.AUDITOR, "compliance"),
    ("admin", "系统管理员", Role.ADMIN, "it"),
    ("agent_zhang", "张伟", Role.AGENT, "customer_service"),
    ("agent_liu", "刘洋", Role.AGENT, "customer_service"),
    ("agent_yang", "杨秀英", Role.AGENT, "customer_service"),
    ("agent_huang", "黄涛", Role.AGENT, "customer_service"),
    ("agent_xu", "徐丽", Role.AGENT, "customer_service"),
    ("agent_he", "何超", Role.AGENT, "customer_service"),
    ("agent_guo", "郭婷", Role.AGENT, "customer_service"),
    ("specialist_lin", "林芳", Role.COMPLAINT_SPECIALIST, "customer_service"),
    ("specialist_luo", "罗军", Role.COMPLAINT_SPECIALIST, "customer_service"),
    ("specialist_song", "宋华", Role.COMPLAINT_SPECIALIST, "customer_service"),
    ("followup_ma", "马兰", Role.FOLLOWUP_AGENT, "customer_service"),
    ("followup_hu", "胡明", Role.FOLLOWUP_AGENT, "customer_service"),
    ("supervisor_tang", "唐建国", Role.SUPERVISOR, "customer_service"),
)

SKILLS: dict[str, tuple[Skill, ...]] = {
    "agent_li": (Skill.CARDS, Skill.PAYMENTS, Skill.DEPOSITS),
    "agent_zhang": (Skill.CARDS, Skill.PAYMENTS),
    "agent_liu": (Skill.LOANS, Skill.DEPOSITS),
    "agent_yang": (Skill.WEALTH, Skill.INSURANCE),
    "agent_huang": (Skill.CARDS, Skill.LOANS),
    "agent_xu": (Skill.PAYMENTS, Skill.DEPOSITS, Skill.WEALTH),
    "agent_he": (Skill.CARDS, Skill.PAYMENTS, Skill.INSURANCE),
    "agent_guo": (Skill.DEPOSITS, Skill.LOANS, Skill.WEALTH),
    "specialist_chen": tuple(Skill),
    "specialist_lin": (Skill.CARDS, Skill.PAYMENTS, Skill.DEPOSITS),
    "specialist_luo": (Skill.LOANS, Skill.WEALTH, Skill.INSURANCE),
    "specialist_song": (Skill.CARDS, Skill.LOANS, Skill.WEALTH),
}

WEEKDAYS = range(5)
EARLY = tuple((d, time(8), time(16, 30)) for d in WEEKDAYS)
LATE = tuple((d, time(12, 30), time(21)) for d in WEEKDAYS)
WEEKEND = tuple((d, time(9), time(18)) for d in (5, 6)) + tuple((d, time(9), time(18)) for d in (1, 2, 3))
SHIFTS: dict[str, tuple[tuple[int, time, time], ...]] = {
    "agent_zhang": EARLY, "agent_huang": EARLY, "agent_he": LATE, "agent_guo": LATE, "agent_xu": WEEKEND,
    "followup_hu": LATE,
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: list[str]
    two_factor: bool


@dataclass
class Team:
    """Who does what, by account id: the generator assigns work as routing would."""

    by_role: dict[Role, list[int]] = field(default_factory=dict)
    skills: dict[int, tuple[Skill, ...]] = field(default_factory=dict)
    shifts: dict[int, tuple[tuple[int, time, time], ...]] = field(default_factory=dict)

    def of(self, role: Role) -> list[int]:
        return self.by_role.get(role, [])


def ensure_staff(session: Session) -> tuple[list[DemoLogin], Team]:
    """Create the missing staff (with skills and shifts); return the logins to print and the team."""
    logins, team = [], Team()
    for username, name, role, department in STAFF:
        account = accounts.get_account_by_username(session, username)
        if account is None:
            account = accounts.create_account(session, actor=SYSTEM, username=username, roles=[role],
                                              department_code=department, display_name=name,
                                              password=DEMO_PASSWORD).account
            if role in TWO_FACTOR_REQUIRED:
                accounts.provision_totp(session, account=account, actor=SYSTEM)
            if username in SKILLS:
                workforce.set_skills(session, actor=SYSTEM, account_id=account.id, skills=list(SKILLS[username]))
            if username in SHIFTS:
                workforce.set_shifts(session, actor=SYSTEM, account_id=account.id,
                                     shifts=[workforce.Shift(d, a, b) for d, a, b in SHIFTS[username]])
        logins.append(DemoLogin(username=username, password=DEMO_PASSWORD, roles=account.role_names,
                                two_factor=account.totp_enabled))
        team.by_role.setdefault(role, []).append(account.id)
        team.skills[account.id] = SKILLS.get(username, ())
        team.shifts[account.id] = SHIFTS.get(username, ())
    return logins, team
