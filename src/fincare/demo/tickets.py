"""One ticket's life, simulated: when it came in, by which channel, about what, who took it, when the
customer was answered, decided and closed — cut at "now", so the last days' tickets are still open.

Handling times are drawn around the SLA targets (scaled by how stretched the desk was that month),
so most clocks are met and some breach. Nothing here touches the database: `history` turns the
plans into rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fincare.demo import seasons
from fincare.servicedesk.models import Channel, Outcome, Priority, RiskGrade, TicketKind
from fincare.sla.calendar import Calendar
from fincare.sla.models import Target
from fincare.sla.service import WARN_AT, ClockSpec
from fincare.workforce.models import Skill

KINDS = ((TicketKind.CONSULTATION, 70), (TicketKind.COMPLAINT, 18), (TicketKind.FEEDBACK, 12))
CHANNELS: dict[str, tuple[tuple[Channel, float], ...]] = {
    TicketKind.CONSULTATION: ((Channel.PHONE, 36), (Channel.APP, 20), (Channel.ONLINE_CHAT, 20), (Channel.WECHAT, 13),
                              (Channel.WEB, 5), (Channel.BRANCH, 5), (Channel.EMAIL, 1)),
    TicketKind.COMPLAINT: ((Channel.PHONE, 40), (Channel.APP, 12), (Channel.ONLINE_CHAT, 8), (Channel.WECHAT, 10),
                           (Channel.WEB, 6), (Channel.BRANCH, 14), (Channel.EMAIL, 4),
                           (Channel.REGULATOR_TRANSFER, 6)),
    TicketKind.FEEDBACK: ((Channel.APP, 30), (Channel.WECHAT, 20), (Channel.WEB, 18), (Channel.ONLINE_CHAT, 10),
                          (Channel.PHONE, 12), (Channel.EMAIL, 5), (Channel.BRANCH, 5)),
}
RISK = ((RiskGrade.LOW, 80), (RiskGrade.MEDIUM, 16), (RiskGrade.HIGH, 4))
OUTCOMES = ((Outcome.UPHELD, 35), (Outcome.PARTLY_UPHELD, 30), (Outcome.NOT_UPHELD, 35))
# JR/T 0169-2018 weights (codes missing from the table are skipped)
CHANNEL_CODES = {"A01": 30, "A02": 6, "A03": 12, "A04": 10, "A05": 25, "A06": 8, "A07": 1, "A08": 5, "A09": 2,
                 "A99": 1}
BUSINESS_CODES = {"B01": 10, "B02": 18, "B03": 30, "B04": 15, "B05": 2, "B06": 4, "B07": 12, "B08": 6, "B99": 3}
CAUSE_CODES = {"C01": 22, "C02": 14, "C03": 20, "C04": 9, "C05": 7, "C06": 6, "C07": 3, "C08": 8, "C09": 6,
               "C10": 3, "C99": 2}
PRODUCT_OF = {"B01": Skill.DEPOSITS, "B02": Skill.LOANS, "B03": Skill.CARDS, "B04": Skill.PAYMENTS,
              "B07": Skill.WEALTH, "B08": Skill.INSURANCE}
PRODUCTS = ((Skill.CARDS, 30), (Skill.DEPOSITS, 20), (Skill.PAYMENTS, 18), (Skill.LOANS, 14), (Skill.WEALTH, 12),
            (Skill.INSURANCE, 6))
TOPICS: dict[str, tuple[str, ...]] = {
    Skill.CARDS: ("信用卡年费", "信用卡分期手续费", "信用卡额度调整", "境外刷卡交易", "信用卡账单日变更"),
    Skill.DEPOSITS: ("定期存款提前支取", "大额存单利率", "账户冻结", "存款证明开立", "睡眠账户激活"),
    Skill.PAYMENTS: ("转账到账时间", "手机银行转账限额", "跨行汇款手续费", "快捷支付解绑", "扫码支付失败"),
    Skill.LOANS: ("房贷提前还款", "消费贷利率", "贷款还款日调整", "征信记录异议", "经营贷续贷"),
    Skill.WEALTH: ("理财产品赎回", "净值型理财亏损", "基金定投扣款", "风险测评到期", "理财产品收益说明"),
    Skill.INSURANCE: ("代销保险退保", "保单现金价值", "银保产品销售说明", "保险理赔进度"),
}
KIND_WORD = {TicketKind.CONSULTATION: "咨询", TicketKind.COMPLAINT: "投诉", TicketKind.FEEDBACK: "建议"}
DESCRIPTIONS = {
    TicketKind.CONSULTATION: "客户来电询问{topic}的相关规定和办理流程，希望了解所需材料和办理时限。",
    TicketKind.COMPLAINT: "客户反映{topic}问题未得到妥善处理，对办理结果不满，要求给出书面答复。",
    TicketKind.FEEDBACK: "客户对{topic}提出改进建议，希望优化办理体验并及时公布相关信息。",
}
FIRST_REPLY = {
    TicketKind.CONSULTATION: "您好，关于您咨询的{topic}，相关规定及办理流程如下，如有其他疑问欢迎随时联系我们。",
    TicketKind.COMPLAINT: "您好，您的投诉我行已受理，我们将尽快核实情况并在规定时限内给您答复。",
    TicketKind.FEEDBACK: "您好，感谢您的宝贵建议，我们已转交相关部门研究改进，并会及时向您反馈。",
}
NOTE = "已联系业务部门核实交易记录，待对方回复后形成处理意见。"
REMEDIES = ("退还相关手续费", "调整还款计划并免除违约金", "补发对账单并更正记录", "安排专人上门说明并致歉")


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...] | dict[str, int]) -> str:
    items = tuple(weighted.items()) if isinstance(weighted, dict) else weighted
    return str(rng.choices([k for k, _ in items], weights=[w for _, w in items])[0])


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


@dataclass
class ClockPlan:
    target: str
    calendar: str
    policy_id: int | None
    budget: timedelta
    started: datetime
    due: datetime
    warn: datetime
    met: datetime | None  # when it was (or will be) met; cut at now by the writer
    extended_at: datetime | None = None
    unextended: tuple[timedelta, datetime, datetime] | None = None  # budget, due, warn before the extension


@dataclass
class DecisionPlan:
    outcome: str
    remedy: str | None
    decided_by: int
    approved_by: int | None


@dataclass
class TicketPlan:
    kind: str
    channel: str
    customer_id: int
    received: datetime
    priority: str
    risk: str | None
    product: str | None
    topic: str
    assignee: int
    first_response: datetime
    resolved: datetime
    closed: datetime
    clocks: list[ClockPlan] = field(default_factory=list)
    codes: tuple[str, str, str] | None = None
    decision: DecisionPlan | None = None
    report_due: datetime | None = None
    report_submitted: datetime | None = None
    note_at: datetime | None = None


@dataclass
class Desk:
    """What the simulation needs to know of the institution (read once per run)."""

    zone: ZoneInfo
    agents_on_duty: dict[tuple[int, int], list[int]]  # (weekday, hour) → agents
    agents_by_skill: dict[str, list[int]]
    specialists: list[int]
    supervisors: list[int]
    compliance: list[int]
    specs: dict[tuple[str, str, str | None, str], list[ClockSpec]]  # (kind, priority, risk, channel)
    calendars: dict[str, Calendar]
    codes: dict[str, dict[str, int]]  # dimension → code → weight


def _working_hours(moment: datetime, zone: ZoneInfo, rng: random.Random) -> datetime:
    """People answer complaints and feedback between 08:00 and 21:00: a night-time time moves to the morning."""
    local = moment.astimezone(zone)
    if 8 <= local.hour < 21:
        return moment
    day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
    morning = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=8, minutes=rng.randrange(30, 120))
    return morning.astimezone(moment.tzinfo)


def plan_ticket(rng: random.Random, desk: Desk, *, received: datetime, customer_id: int, pressure: float) -> TicketPlan:
    kind = pick(rng, KINDS)
    channel = pick(rng, CHANNELS[kind])
    hour, day = seasons.local_hour(received, desk.zone)
    off_hours = day != "workday" or not 9 <= hour < 18
    risk = pick(rng, RISK) if kind == TicketKind.COMPLAINT else None
    codes = None
    if kind == TicketKind.COMPLAINT:
        codes = (pick(rng, desk.codes["channel"]), pick(rng, desk.codes["business_type"]),
                 pick(rng, desk.codes["cause"]))
        product: str | None = PRODUCT_OF.get(codes[1])
    else:
        product = pick(rng, PRODUCTS)
    topic = rng.choice(TOPICS[product or rng.choice(list(TOPICS))])
    priority = Priority.HIGH if risk == RiskGrade.HIGH or channel == Channel.REGULATOR_TRANSFER else (
        Priority.LOW if kind == TicketKind.FEEDBACK and rng.random() < 0.3 else Priority.NORMAL)
    if kind == TicketKind.COMPLAINT:
        assignee = rng.choice(desk.specialists)
    else:
        local = received.astimezone(desk.zone)
        on_duty = desk.agents_on_duty.get((local.weekday(), local.hour)) or desk.agents_on_duty[(0, 10)]
        skilled = [a for a in on_duty if a in desk.agents_by_skill.get(product or "", ())]
        assignee = rng.choice(skilled or on_duty)
    plan = TicketPlan(kind=kind, channel=channel, customer_id=customer_id, received=received, priority=priority,
                      risk=risk, product=product, topic=topic, assignee=assignee, first_response=received,
                      resolved=received, closed=received, codes=codes)
    _handle(rng, desk, plan, pressure, off_hours)
    _start_clocks(desk, plan)
    return plan


def _handle(rng: random.Random, desk: Desk, plan: TicketPlan, pressure: float, off_hours: bool) -> None:
    """Draw the first response, the resolution and the closing around the targets."""
    received = plan.received
    slow = 1.15 if off_hours else 1.0
    if plan.kind == TicketKind.CONSULTATION:
        factor = 2.5 if plan.channel in (Channel.EMAIL, Channel.WEB) else 1.0
        plan.first_response = received + timedelta(minutes=lognormal(rng, 1.7 * pressure * slow * factor, 0.75))
        if rng.random() < 0.85:  # answered in the same contact
            plan.resolved = plan.first_response + timedelta(minutes=lognormal(rng, 6, 0.8))
        else:  # needs a look at the account first
            plan.resolved = plan.first_response + timedelta(hours=lognormal(rng, 20, 0.9))
        plan.closed = plan.resolved + timedelta(days=3, hours=rng.uniform(0, 48))
        return
    if plan.kind == TicketKind.FEEDBACK:
        plan.first_response = _working_hours(received + timedelta(hours=lognormal(rng, 2.5 * pressure, 0.9)),
                                             desk.zone, rng)
        resolved = received + timedelta(hours=lognormal(rng, 15 * pressure, 0.8))
        plan.resolved = _working_hours(max(resolved, plan.first_response + timedelta(minutes=20)), desk.zone, rng)
        plan.closed = plan.resolved + timedelta(days=3, hours=rng.uniform(0, 48))
        return
    # a complaint: fed back within a day or so, decided within the statutory 15 days (mostly)
    plan.first_response = _working_hours(received + timedelta(hours=lognormal(rng, 6.5 * pressure, 0.85)),
                                         desk.zone, rng)
    plan.note_at = plan.first_response + timedelta(hours=rng.uniform(1, 30)) if rng.random() < 0.5 else None
    if plan.risk == RiskGrade.HIGH:
        decided = received + timedelta(hours=lognormal(rng, 30 * pressure ** 0.5, 0.4))
    elif plan.risk == RiskGrade.MEDIUM:
        decided = received + timedelta(days=lognormal(rng, 3 * pressure ** 0.5, 0.6))
    else:
        decided = received + timedelta(days=lognormal(rng, 4.5 * pressure ** 0.5, 0.65))
    plan.resolved = max(_working_hours(decided, desk.zone, rng), plan.first_response + timedelta(hours=1))
    plan.closed = plan.resolved + timedelta(days=rng.uniform(2, 7))
    approver = rng.choice(desk.supervisors) if plan.risk == RiskGrade.HIGH else None
    plan.decision = DecisionPlan(outcome=pick(rng, OUTCOMES), remedy=None, decided_by=plan.assignee,
                                 approved_by=approver)
    if plan.decision.outcome != Outcome.NOT_UPHELD:
        plan.decision.remedy = rng.choice(REMEDIES)
    if plan.risk == RiskGrade.HIGH or plan.channel == Channel.REGULATOR_TRANSFER:
        within = timedelta(hours=24) if plan.risk == RiskGrade.HIGH else timedelta(days=15)
        plan.report_due = received + within
        plan.report_submitted = received + timedelta(hours=lognormal(rng, 10, 0.6)) if plan.risk == RiskGrade.HIGH \
            else received + timedelta(days=lognormal(rng, 5, 0.5))


def _start_clocks(desk: Desk, plan: TicketPlan) -> None:
    """The ticket's clocks as intake starts them; when each is met; an extension for a slow complaint."""
    specs = desk.specs[(plan.kind, plan.priority, plan.risk, plan.channel)]
    for spec in specs:
        calendar = desk.calendars[spec.calendar]
        due = calendar.add(plan.received, spec.budget)
        warn = calendar.add(plan.received, spec.budget * WARN_AT)
        met = plan.first_response if spec.target in (Target.FIRST_RESPONSE, Target.FEEDBACK) else plan.resolved
        item = ClockPlan(spec.target, spec.calendar, spec.policy_id, spec.budget, plan.received, due, warn, met)
        if spec.target == Target.STATUTORY and plan.resolved > due:
            _extend_or_late(plan, item)
        plan.clocks.append(item)


def _extend_or_late(plan: TicketPlan, item: ClockPlan) -> None:
    """A complaint that cannot be decided in 15 days: most get the 30-day extension (asked a few days
    before the deadline), the others are simply late."""
    draw = random.Random(f"{plan.received.isoformat()}-{plan.customer_id}").random()
    if draw < 0.6:
        item.extended_at = item.due - timedelta(days=2 + 3 * draw)
        item.unextended = (item.budget, item.due, item.warn)
        item.budget = timedelta(days=30)
        item.due = item.started + item.budget
        item.warn = item.started + item.budget * WARN_AT
        if plan.resolved > item.due:  # even the extension would be late: decided just inside it
            plan.resolved = item.due - timedelta(hours=6 + 40 * draw)
            plan.closed = plan.resolved + timedelta(days=3)
            item.met = plan.resolved
            for other in plan.clocks:
                if other.target == Target.RESOLUTION:
                    other.met = plan.resolved
