"""The KPI catalogue: the stable keys of CONTRACT with their names, owner departments, targets from
MISSION and the source documents, units and cadences. Which of them FinCare can compute today, and
from what, is in `measures.py`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fincare.followups.service.results import CSAT_TARGET, FOLLOWUP_TARGET
from fincare.scorecard.models import Cadence


class Direction(StrEnum):
    """How the target reads: the actual must be at least, at most, or below it."""

    AT_LEAST = "ge"
    AT_MOST = "le"
    BELOW = "lt"


class Unit(StrEnum):
    RATIO = "ratio"  # a fraction in [0, 1]
    MINUTES = "minutes"
    HOURS = "hours"
    COUNT = "count"


@dataclass(frozen=True)
class Kpi:
    key: str
    name_zh: str
    name_en: str
    owner: str  # department code
    target: float
    direction: Direction
    unit: Unit
    cadence: Cadence

    def met(self, actual: float | None) -> bool | None:
        if actual is None:
            return None
        if self.direction == Direction.AT_LEAST:
            return actual >= self.target
        if self.direction == Direction.AT_MOST:
            return actual <= self.target
        return actual < self.target


GE, LE, LT = Direction.AT_LEAST, Direction.AT_MOST, Direction.BELOW
M, Q, H = Cadence.MONTHLY, Cadence.QUARTERLY, Cadence.HALF_YEARLY

CATALOGUE: tuple[Kpi, ...] = (
    Kpi("customer_satisfaction_rate", "客户满意度（调查合格率）", "Customer satisfaction (survey pass rate)",
        "customer_service", CSAT_TARGET, GE, Unit.RATIO, M),
    Kpi("consultation_first_response_p90_minutes", "咨询首次响应时间（P90）", "Consultation first response (p90)",
        "customer_service", 5, LE, Unit.MINUTES, M),
    Kpi("complaint_feedback_p90_hours", "投诉反馈时间（P90）", "Complaint feedback time (p90)", "customer_service", 24,
        LE, Unit.HOURS, M),
    Kpi("feedback_handling_p90_hours", "意见反馈处理时间（P90）", "Feedback handling time (p90)", "customer_service",
        48, LE, Unit.HOURS, M),
    Kpi("complaint_statutory_deadline_met_rate", "投诉法定时限达成率",
        "Complaints decided within the statutory deadline", "customer_service", 1.0, GE, Unit.RATIO, M),
    Kpi("followup_satisfaction_rate", "回访满意率", "Follow-up satisfaction", "customer_service", FOLLOWUP_TARGET, GE,
        Unit.RATIO, M),
    Kpi("customer_churn_rate", "客户流失率", "Customer churn rate", "customer_service", 0.05, LE, Unit.RATIO, Q),
    Kpi("data_leak_incident_rate", "客户信息泄露事件率", "Customer data-leak incident rate", "security_office", 0.001,
        LT, Unit.RATIO, Q),
    Kpi("security_audit_pass_rate", "安全审计通过率", "Security audit pass rate", "it", 0.95, GE, Unit.RATIO, Q),
    Kpi("security_incident_response_p90_minutes", "安全事件响应时间（P90）", "Security incident response (p90)",
        "security_office", 30, LE, Unit.MINUTES, M),
    Kpi("recommendation_conversion_rate", "个性化推荐转化率", "Personalised recommendation conversion", "marketing",
        0.20, GE, Unit.RATIO, Q),
    Kpi("training_participation_rate", "员工培训参与率", "Staff training participation", "hr", 1.0, GE, Unit.RATIO, Q),
    Kpi("employee_satisfaction_rate", "员工满意度", "Employee satisfaction", "hr", 0.80, GE, Unit.RATIO, H),
    Kpi("lectures_per_quarter", "金融知识讲座场次（季度）", "Financial-knowledge lectures per quarter", "marketing", 1,
        GE, Unit.COUNT, Q),
    Kpi("lecture_attendance", "讲座参与人次", "Lecture attendance", "marketing", 200, GE, Unit.COUNT, Q),
    Kpi("forums_per_quarter", "线上客户论坛场次（季度）", "Online customer forums per quarter", "marketing", 2, GE,
        Unit.COUNT, Q),
    Kpi("knowledge_posts_per_month", "知识文章发布数（月）", "Knowledge posts per month", "marketing", 4, GE,
        Unit.COUNT, M),
    Kpi("knowledge_post_views", "知识文章累计阅读量", "Knowledge post views (cumulative)", "marketing", 10_000, GE,
        Unit.COUNT, M),
)
BY_KEY = {kpi.key: kpi for kpi in CATALOGUE}
