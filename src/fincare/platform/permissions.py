"""Roles, permissions and the role → permission map. The map lives in code so it is reviewed.

A staff account holds one or more roles; its permissions are the union of theirs. Endpoints and
console pages declare the permission they need with `require(...)` (see `platform.web` / `app`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    COMPLAINT_SPECIALIST = "complaint_specialist"
    FOLLOWUP_AGENT = "followup_agent"
    SUPERVISOR = "supervisor"
    SECURITY_OFFICER = "security_officer"
    COMPLIANCE_OFFICER = "compliance_officer"
    MARKETING = "marketing"
    HR = "hr"
    EXECUTIVE = "executive"
    AUDITOR = "auditor"
    ADMIN = "admin"


# Roles that reach personal data in bulk or control the system: a stolen password alone must not do.
TWO_FACTOR_REQUIRED = frozenset({Role.ADMIN, Role.SECURITY_OFFICER, Role.COMPLIANCE_OFFICER, Role.AUDITOR})


class Permission(StrEnum):
    # platform
    CONSOLE = "console.use"
    OWN_TOKENS = "account.manage_own_tokens"
    STAFF_READ = "staff.read"
    STAFF_MANAGE = "staff.manage"
    AUDIT_READ = "audit.read"
    JOBS_MANAGE = "jobs.manage"
    # customers
    CUSTOMER_READ = "customer.read"
    CUSTOMER_WRITE = "customer.write"
    CUSTOMER_REVEAL = "customer.reveal"
    CUSTOMER_EXPORT = "customer.export"
    CUSTOMER_ERASE = "customer.erase"
    CUSTOMER_IMPORT = "customer.import"
    # service desk
    TICKET_READ = "ticket.read"
    TICKET_WRITE = "ticket.write"
    TICKET_BACKDATE = "ticket.backdate"
    TICKET_ASSIGN = "ticket.assign"
    COMPLAINT_HANDLE = "complaint.handle"
    EXTENSION_APPROVE = "complaint.approve_extension"
    DECISION_APPROVE = "complaint.approve_decision"  # the optional second pair of eyes on high-risk replies
    COMPLAINT_REVIEW = "complaint.review"  # 核查 by the superior level
    COMPLAINT_CODES_MANAGE = "complaint.manage_codes"
    SLA_POLICY_READ = "sla.read_policies"  # the targets and calendar days clocks run on
    SLA_POLICY_MANAGE = "sla.manage_policies"
    # follow-ups
    FOLLOWUP_WORK = "followup.work"
    SURVEY_MANAGE = "survey.manage"
    # security, risk, compliance
    INCIDENT_MANAGE = "incident.manage"
    SECURITY_AUDIT_MANAGE = "security_audit.manage"
    RISK_MANAGE = "risk.manage"
    REGULATOR_REPORT = "regulator.report"
    # marketing, knowledge, education, loyalty, insight
    KNOWLEDGE_MANAGE = "knowledge.manage"
    EDUCATION_MANAGE = "education.manage"
    LOYALTY_MANAGE = "loyalty.manage"
    INSIGHT_READ = "insight.read"
    # workforce
    WORKFORCE_MANAGE = "workforce.manage"
    ROSTER_MANAGE = "roster.manage"  # skills, shifts and availability that routing reads
    # scorecard
    KPI_READ = "kpi.read"
    MEASURES_MANAGE = "measures.manage"
    REPORTS_EXPORT = "reports.export"


P = Permission
_BASE = {P.CONSOLE, P.OWN_TOKENS}
_DESK = {P.CUSTOMER_READ, P.CUSTOMER_WRITE, P.TICKET_READ, P.TICKET_WRITE, P.SLA_POLICY_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(_BASE | _DESK | {P.KNOWLEDGE_MANAGE}),
    Role.COMPLAINT_SPECIALIST: frozenset(_BASE | _DESK | {P.COMPLAINT_HANDLE, P.TICKET_BACKDATE}),
    Role.FOLLOWUP_AGENT: frozenset(_BASE | {P.CUSTOMER_READ, P.TICKET_READ, P.SLA_POLICY_READ, P.FOLLOWUP_WORK}),
    Role.SUPERVISOR: frozenset(
        _BASE | _DESK | {P.COMPLAINT_HANDLE, P.TICKET_BACKDATE, P.TICKET_ASSIGN, P.EXTENSION_APPROVE,
                         P.CUSTOMER_REVEAL, P.FOLLOWUP_WORK, P.SURVEY_MANAGE, P.STAFF_READ, P.KPI_READ,
                         P.REPORTS_EXPORT, P.REGULATOR_REPORT, P.RISK_MANAGE, P.ROSTER_MANAGE,
                         P.DECISION_APPROVE, P.COMPLAINT_REVIEW}
    ),
    Role.SECURITY_OFFICER: frozenset(
        _BASE | {P.INCIDENT_MANAGE, P.SECURITY_AUDIT_MANAGE, P.AUDIT_READ, P.CUSTOMER_READ, P.STAFF_READ,
                 P.KPI_READ, P.RISK_MANAGE}
    ),
    Role.COMPLIANCE_OFFICER: frozenset(
        _BASE | {P.CUSTOMER_READ, P.CUSTOMER_REVEAL, P.CUSTOMER_EXPORT, P.CUSTOMER_ERASE, P.TICKET_READ,
                 P.SLA_POLICY_READ, P.COMPLAINT_HANDLE, P.REGULATOR_REPORT, P.AUDIT_READ, P.KPI_READ, P.REPORTS_EXPORT,
                 P.EXTENSION_APPROVE, P.COMPLAINT_CODES_MANAGE, P.DECISION_APPROVE, P.COMPLAINT_REVIEW}
    ),
    Role.MARKETING: frozenset(
        _BASE | {P.KNOWLEDGE_MANAGE, P.EDUCATION_MANAGE, P.LOYALTY_MANAGE, P.INSIGHT_READ, P.KPI_READ}
    ),
    Role.HR: frozenset(_BASE | {P.WORKFORCE_MANAGE, P.ROSTER_MANAGE, P.STAFF_READ, P.KPI_READ}),
    Role.EXECUTIVE: frozenset(_BASE | {P.KPI_READ, P.REPORTS_EXPORT, P.MEASURES_MANAGE, P.STAFF_READ}),
    Role.AUDITOR: frozenset(_BASE | {P.AUDIT_READ, P.KPI_READ, P.STAFF_READ}),
    # Admins run the system; they do not read customers' personal data or the complaint files.
    Role.ADMIN: frozenset(
        _BASE | {P.STAFF_READ, P.STAFF_MANAGE, P.JOBS_MANAGE, P.SLA_POLICY_READ, P.SLA_POLICY_MANAGE,
                 P.MEASURES_MANAGE, P.CUSTOMER_IMPORT, P.COMPLAINT_CODES_MANAGE}
    ),
}


def permissions_of(roles: frozenset[Role]) -> frozenset[Permission]:
    """The union of the permissions of `roles`."""
    out: set[Permission] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return frozenset(out)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a staff account (with its roles) or the system itself (jobs, migrations)."""

    account_id: int | None
    username: str
    roles: frozenset[Role] = frozenset()
    department_id: int | None = None
    language: str = "zh-CN"
    permissions: frozenset[Permission] = field(default=frozenset())
    request_id: str | None = None
    source_ip: str | None = None

    @classmethod
    def of(cls, *, account_id: int, username: str, roles: frozenset[Role], department_id: int | None,
           language: str = "zh-CN", request_id: str | None = None, source_ip: str | None = None) -> Principal:
        return cls(account_id=account_id, username=username, roles=roles, department_id=department_id,
                   language=language, permissions=permissions_of(roles), request_id=request_id,
                   source_ip=source_ip)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def is_system(self) -> bool:
        return self.account_id is None


SYSTEM = Principal(account_id=None, username="system", permissions=frozenset(Permission))
