"""Follow-up rules by topic: `tasks` (create once, route, record calls and outcomes), `rules`
(periodic follow-ups of key and high-risk-sales customers), `surveys` (who is asked, signed links,
answers, detractor recovery) and `results` (CSAT, NPS, follow-up satisfaction, response rate).

Callers use this package as one module: ``from fincare.followups import service``.
"""

from fincare.followups.service.results import (
    Dimension,
    Figures,
    followup_totals,
    results,
    survey_totals,
    totals,
)
from fincare.followups.service.rules import add_rule, deactivate_rule, generate, list_rules, period_of
from fincare.followups.service.surveys import (
    Gone,
    SurveyView,
    add_template,
    ensure_default_surveys,
    invite,
    link_of,
    list_policies,
    list_templates,
    open_survey,
    opt_out,
    send_reminders,
    set_policy,
    submit,
    token_of,
)
from fincare.followups.service.tasks import (
    SUBJECT,
    access,
    attempts_of,
    for_resolution,
    list_follow_ups,
    open_follow_up,
    record_attempt,
    route,
    route_waiting,
)

__all__ = [
    "SUBJECT",
    "Dimension",
    "Figures",
    "Gone",
    "SurveyView",
    "access",
    "add_rule",
    "add_template",
    "attempts_of",
    "deactivate_rule",
    "ensure_default_surveys",
    "followup_totals",
    "for_resolution",
    "generate",
    "invite",
    "link_of",
    "list_follow_ups",
    "list_policies",
    "list_rules",
    "list_templates",
    "open_follow_up",
    "open_survey",
    "opt_out",
    "period_of",
    "record_attempt",
    "results",
    "route",
    "route_waiting",
    "send_reminders",
    "set_policy",
    "submit",
    "survey_totals",
    "token_of",
    "totals",
]
