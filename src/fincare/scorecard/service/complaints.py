"""The monthly complaint report: complaints received in a period (linked duplicates excluded), by
JR/T 0169-2018 channel, business type and cause, by intake channel, by the customer's branch
(region), by risk grade and by outcome; how many were handled within the statutory deadline, how
many the regulator transferred and how many were reported to it.

"Within the deadline" reads the statutory clock (met and never breached), or, for imported
history without clocks, the source's own `timely` flag. Every figure comes from a handful of GROUP
BY queries over the `received_at` index range, so a month stays fast over millions of tickets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from fincare.customers.models import Customer
from fincare.platform import clock, exports
from fincare.scorecard.periods import Period
from fincare.scorecard.service.measures import LATE, ON_TIME
from fincare.servicedesk.models import (
    ACTIVE_STATUSES,
    Channel,
    ComplaintCode,
    ComplaintDecision,
    RegulatorReport,
    ReportStatus,
    RiskGrade,
    Ticket,
    TicketKind,
)
from fincare.sla.models import Clock, ClockState, Target

UNCODED = "uncoded"
UNGRADED = "ungraded"
UNDECIDED = "undecided"
NO_BRANCH = "unknown"

# names of the non-JR/T keys, (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    Channel.PHONE: ("电话", "Phone"), Channel.ONLINE_CHAT: ("在线客服", "Online chat"),
    Channel.APP: ("手机应用", "App"),
    Channel.WEB: ("网站", "Web"), Channel.WECHAT: ("微信", "WeChat"), Channel.EMAIL: ("电子邮件", "E-mail"),
    Channel.BRANCH: ("营业网点（含信函、传真）", "Branch (incl. letters and fax)"),
    Channel.REGULATOR_TRANSFER: ("监管转办", "Regulator transfer"),
    RiskGrade.LOW: ("低", "Low"), RiskGrade.MEDIUM: ("中", "Medium"), RiskGrade.HIGH: ("高", "High"),
    UNGRADED: ("未分级", "Not graded"), UNCODED: ("未编码", "Not coded"), NO_BRANCH: ("未知", "Unknown"),
    "upheld": ("支持", "Upheld"), "partly_upheld": ("部分支持", "Partly upheld"),
    "not_upheld": ("不支持", "Not upheld"), UNDECIDED: ("尚未决定", "Not decided yet"),
}

# the report's sections: key, (Chinese, English) title; the XLSX names its sheets with the Chinese
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("by_channel", "办理渠道", "JR/T 0169 channel"),
    ("by_business_type", "业务类型", "Business type"),
    ("by_cause", "投诉原因", "Cause"),
    ("by_intake_channel", "受理渠道", "Intake channel"),
    ("by_region", "地区", "Branch / region"),
    ("by_risk_grade", "风险等级", "Risk grade"),
    ("by_outcome", "处理结果", "Outcome"),
)
# the summary figures: key, Chinese, English
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("total", "投诉总量", "Complaints received"),
    ("within_deadline", "在时限内办结", "Handled within the deadline"),
    ("past_deadline", "超时限", "Past the deadline"),
    ("still_open", "办理中", "Still open"),
    ("deadline_unknown", "无时限记录", "No deadline on record"),
    ("regulator_transferred", "监管转办", "Transferred by the regulator"),
    ("regulator_reported", "已向监管报送", "Reported to the regulator"),
)


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: its key (a code, channel, branch…), names and count."""

    key: str
    name_zh: str
    name_en: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name_zh": self.name_zh, "name_en": self.name_en, "count": self.count}


@dataclass(frozen=True)
class ComplaintReport:
    period: Period
    total: int
    by_channel: list[Line]
    by_business_type: list[Line]
    by_cause: list[Line]
    by_intake_channel: list[Line]
    by_region: list[Line]
    by_risk_grade: list[Line]
    by_outcome: list[Line]
    within_deadline: int
    past_deadline: int
    still_open: int
    deadline_unknown: int  # closed, with neither a statutory clock nor the source's timeliness
    regulator_transferred: int
    regulator_reported: int

    def section(self, key: str) -> list[Line]:
        return list(getattr(self, key))

    def figure(self, key: str) -> int:
        return int(getattr(self, key))

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of the API and `fincare report complaints --format json`."""
        return {"period": self.period.label, "from": self.period.first.isoformat(),
                "to": self.period.last.isoformat(),
                **{key: self.figure(key) for key, _, _ in FIGURES},
                **{key: [line.as_dict() for line in self.section(key)] for key, _, _ in SECTIONS}}


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    return [Ticket.received_at >= period.since, Ticket.received_at < period.until,
            Ticket.kind == TicketKind.COMPLAINT, Ticket.duplicate_of_id.is_(None)]


def complaint_report(session: Session, period: Period) -> ComplaintReport:
    """The complaint report of `period` (complaints by `received_at`, linked duplicates excluded)."""
    where = _in_period(period)
    # one pass for every dimension the ticket row carries itself
    grouped = session.execute(
        select(Ticket.channel_code, Ticket.business_type_code, Ticket.cause_code, Ticket.channel,
               Ticket.risk_grade, Ticket.regulator_transfer, func.count())
        .where(*where)
        .group_by(Ticket.channel_code, Ticket.business_type_code, Ticket.cause_code, Ticket.channel,
                  Ticket.risk_grade, Ticket.regulator_transfer)).all()
    a_codes: Counter[str] = Counter()
    b_codes: Counter[str] = Counter()
    c_codes: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    transferred = 0
    for a, b, c, channel, grade, regulator_transfer, count in grouped:
        a_codes[a or UNCODED] += count
        b_codes[b or UNCODED] += count
        c_codes[c or UNCODED] += count
        channels[channel] += count
        grades[grade or UNGRADED] += count
        transferred += count if regulator_transfer else 0
    total = sum(channels.values())
    regions = Counter({branch or NO_BRANCH: count for branch, count in session.execute(
        select(Customer.branch, func.count()).select_from(Ticket).join(Customer, Customer.id == Ticket.customer_id)
        .where(*where).group_by(Customer.branch)).all()})
    outcomes = Counter({outcome or UNDECIDED: count for outcome, count in session.execute(
        select(ComplaintDecision.outcome, func.count()).select_from(Ticket)
        .outerjoin(ComplaintDecision, ComplaintDecision.id == Ticket.decision_id)
        .where(*where).group_by(ComplaintDecision.outcome)).all()})
    deadline = _deadline(session, where)
    reported = session.execute(
        select(func.count()).select_from(Ticket).join(RegulatorReport, RegulatorReport.ticket_id == Ticket.id)
        .where(*where, RegulatorReport.status == ReportStatus.SUBMITTED)).scalar_one()
    names = _code_names(session)
    return ComplaintReport(
        period=period, total=total,
        by_channel=_coded(a_codes, names), by_business_type=_coded(b_codes, names), by_cause=_coded(c_codes, names),
        by_intake_channel=_labelled(channels, [c.value for c in Channel]),
        by_region=_regions(regions),
        by_risk_grade=_labelled(grades, [g.value for g in RiskGrade] + [UNGRADED]),
        by_outcome=_labelled(outcomes, ["upheld", "partly_upheld", "not_upheld", UNDECIDED]),
        within_deadline=deadline["within"], past_deadline=deadline["late"], still_open=deadline["open"],
        deadline_unknown=deadline["unknown"], regulator_transferred=transferred, regulator_reported=int(reported))


def _deadline(session: Session, where: list[ColumnElement[bool]]) -> Counter[str]:
    """within / late / open / unknown: by the statutory clock, else by the source's `timely`."""
    now = clock.now()
    statutory = and_(Clock.subject_type == "ticket", Clock.subject_id == Ticket.id, Clock.target == Target.STATUTORY,
                     Clock.state != ClockState.CANCELLED)
    active = Ticket.status.in_([s.value for s in ACTIVE_STATUSES])
    verdict = case(
        (and_(Clock.id.is_not(None), LATE), literal("late")),
        (and_(Clock.id.is_not(None), ON_TIME), literal("within")),
        (and_(Clock.id.is_not(None), Clock.state == ClockState.RUNNING, Clock.due_at < now), literal("late")),
        (Clock.id.is_not(None), literal("open")),
        (active, literal("open")),  # imported history still in progress at the source
        (Ticket.timely.is_(True), literal("within")),
        (Ticket.timely.is_(False), literal("late")),
        else_=literal("unknown"))
    rows = session.execute(select(verdict, func.count()).select_from(Ticket).outerjoin(Clock, statutory)
                           .where(*where).group_by(verdict)).all()
    counts: Counter[str] = Counter({"within": 0, "late": 0, "open": 0, "unknown": 0})
    for key, count in rows:
        counts[str(key)] += count
    return counts


def _code_names(session: Session) -> dict[str, tuple[str, str]]:
    """Names of every code ever used (all versions, active or not): the newest version's name wins."""
    rows = session.execute(select(ComplaintCode.code, ComplaintCode.name_zh, ComplaintCode.name_en)
                           .order_by(ComplaintCode.version, ComplaintCode.id)).all()
    return {code: (zh, en) for code, zh, en in rows}


def _coded(counts: Counter[str], names: dict[str, tuple[str, str]]) -> list[Line]:
    lines = [Line(code, *names.get(code, LABELS[UNCODED] if code == UNCODED else (code, code)), count)
             for code, count in counts.items()]
    return sorted(lines, key=lambda line: (line.key == UNCODED, line.key))


def _regions(counts: Counter[str]) -> list[Line]:
    """Largest first; the branch names are the institution's own (no translation), unknown last."""
    lines = [Line(k, *(LABELS[k] if k == NO_BRANCH else (k, k)), n) for k, n in counts.items()]
    return sorted(lines, key=lambda line: (line.key == NO_BRANCH, -line.count, line.key))


def _labelled(counts: Counter[str], order: list[str]) -> list[Line]:
    keys = [k for k in order if counts.get(k)] + sorted(k for k in counts if k not in order and counts[k])
    return [Line(k, *LABELS.get(k, (k, k)), counts[k]) for k in keys]


# -- exports ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "key", "name_zh", "name_en", "count")


def to_csv(report: ComplaintReport) -> str:
    """One row per figure and per breakdown line: section, key, names, count."""
    return exports.to_csv([
        CSV_COLUMNS,
        ("period", report.period.label, report.period.first.isoformat(), report.period.last.isoformat(), ""),
        *(("summary", key, zh, en, report.figure(key)) for key, zh, en in FIGURES),
        *((section, line.key, line.name_zh, line.name_en, line.count)
          for section, _, _ in SECTIONS for line in report.section(section)),
    ])


def to_xlsx(report: ComplaintReport) -> bytes:
    """A workbook in Chinese: 汇总 (the figures) and one sheet per breakdown, with its share of the total."""
    summary = [
        ("投诉统计报表", report.period.label),
        ("统计期间", f"{report.period.first.isoformat()} 至 {report.period.last.isoformat()}"),
        ("指标", "件数"),
        *((zh, report.figure(key)) for key, zh, _ in FIGURES),
    ]
    return exports.to_xlsx([("汇总", summary),
                            *((title, _breakdown(report, section)) for section, title, _ in SECTIONS)])


def _breakdown(report: ComplaintReport, section: str) -> list[tuple[Any, ...]]:
    header = ("编码" if section in ("by_channel", "by_business_type", "by_cause") else "项目", "名称", "件数", "占比")
    return [header, *((line.key, line.name_zh, line.count, round(line.count / report.total, 4) if report.total else 0)
                      for line in report.section(section))]
