"""The measures plan of the source documents, as data: what each department committed to, by when
(months from the plan's start) and how often it is evaluated, with the KPIs that show its effect."""

from __future__ import annotations

from dataclasses import dataclass

from fincare.scorecard.models import Cadence


@dataclass(frozen=True)
class PlannedMeasure:
    key: str
    title_zh: str
    title_en: str
    owner: str  # department code
    months: int  # deadline, months after the plan starts
    cadence: Cadence
    kpis: tuple[str, ...] = ()


M, Q, H = Cadence.MONTHLY, Cadence.QUARTERLY, Cadence.HALF_YEARLY

PLAN: tuple[PlannedMeasure, ...] = (
    PlannedMeasure("infosec_system", "建立信息安全管理体系，制定相关政策和实施细则",
                   "Set up the information security management system, its policies and rules", "it", 1, M,
                   ("data_leak_incident_rate",)),
    PlannedMeasure("infosec_training", "完成全员信息安全培训", "Information security training for all staff", "hr", 2,
                   M, ("training_participation_rate",)),
    PlannedMeasure("security_audit_quarterly", "每季度进行一次安全审计，及时修复安全隐患",
                   "A security audit every quarter, weaknesses fixed promptly", "it", 12, Q,
                   ("security_audit_pass_rate",)),
    PlannedMeasure("leak_response", "建立客户信息泄露应急响应机制",
                   "An emergency response to customer data leaks", "security_office", 1, Q,
                   ("security_incident_response_p90_minutes", "data_leak_incident_rate")),
    PlannedMeasure("service_team", "组建客户服务团队，确保成员专业素质符合要求",
                   "Form the customer service team with qualified members", "customer_service", 1, M,
                   ("consultation_first_response_p90_minutes",)),
    PlannedMeasure("feedback_mechanism", "建立客户服务反馈机制，收集客户意见",
                   "A feedback mechanism that collects customers' views", "customer_service", 2, M,
                   ("customer_satisfaction_rate",)),
    PlannedMeasure("multichannel_service", "实现多渠道客户服务全面上线", "Customer service on every channel",
                   "it", 3, Q),
    PlannedMeasure("complaint_process", "制定并公布投诉处理流程", "Write and publish the complaint procedure",
                   "customer_service", 1, M, ("complaint_feedback_p90_hours", "feedback_handling_p90_hours")),
    PlannedMeasure("complaint_specialists", "设立投诉处理专员，跟进客户投诉",
                   "Appoint complaint specialists who follow complaints through", "customer_service", 2, M,
                   ("complaint_statutory_deadline_met_rate",)),
    PlannedMeasure("complaint_analysis", "每月分析投诉数据，提出改进建议并在3个月内实施",
                   "Analyse complaints monthly; improvements in place within 3 months", "compliance", 3, M),
    PlannedMeasure("followups_quarterly", "每季度进行客户回访，优化客户关系管理",
                   "Follow-up calls every quarter to improve customer relationships", "customer_service", 12, Q,
                   ("followup_satisfaction_rate",)),
    PlannedMeasure("loyalty_programme", "推出客户忠诚度计划，明确积分兑换和优惠政策",
                   "Launch the loyalty programme: points, redemptions and offers", "marketing", 2, Q,
                   ("customer_churn_rate",)),
    PlannedMeasure("appreciation_event", "举办首次客户答谢活动", "Hold the first customer appreciation event",
                   "marketing", 3, Q),
    PlannedMeasure("financial_lectures", "每季度举办不少于1次金融知识讲座，参与人数200人次以上",
                   "At least one financial-knowledge lecture a quarter, 200 attendees or more", "marketing", 12, Q,
                   ("lectures_per_quarter", "lecture_attendance")),
    PlannedMeasure("customer_forums", "每季度举办不少于2次线上客户论坛",
                   "At least two online customer forums a quarter", "marketing", 12, Q, ("forums_per_quarter",)),
    PlannedMeasure("knowledge_posts", "每月发布不少于4篇金融安全知识文章",
                   "At least four security-knowledge posts a month", "marketing", 12, M,
                   ("knowledge_posts_per_month", "knowledge_post_views")),
    PlannedMeasure("personalised_products", "每季度推出新的个性化产品", "New personalised products every quarter",
                   "marketing", 12, Q, ("recommendation_conversion_rate",)),
    PlannedMeasure("service_assessment", "每月进行一次服务质量评估", "A service-quality assessment every month",
                   "customer_service", 12, M),
    PlannedMeasure("employee_survey", "每半年开展一次员工满意度调查", "An employee satisfaction survey every half-year",
                   "hr", 6, H, ("employee_satisfaction_rate",)),
)
