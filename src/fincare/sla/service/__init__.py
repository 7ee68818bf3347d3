"""SLA rules by topic: `policies` (targets, calendars), `clocks` (start, pause, resume, meet, extend),
`sweep` (warnings and breaches). Callers use this package as one module: ``from fincare.sla import service``.
"""

from fincare.sla.service.clocks import (
    STATUTORY_DAYS,
    STATUTORY_EXTENSIONS,
    WARN_AT,
    ClockSpec,
    at_maximum,
    cancel,
    clock_specs,
    clocks_of,
    clocks_of_subjects,
    extend_statutory,
    meet,
    new_clocks,
    pause,
    refuse_at_maximum,
    resume,
    start_clock,
    start_clocks,
)
from fincare.sla.service.policies import (
    DEFAULTS,
    REFERENCE_TTL_SECONDS,
    DefaultPolicy,
    PolicyTarget,
    calendar_of,
    ensure_default_policies,
    get_policy,
    list_calendar_overrides,
    list_policies,
    reference_cache,
    remove_calendar_override,
    revise_policy,
    select_policies,
    set_calendar_override,
)
from fincare.sla.service.sweep import SweepResult, sweep

__all__ = [
    "DEFAULTS", "REFERENCE_TTL_SECONDS", "STATUTORY_DAYS", "STATUTORY_EXTENSIONS", "WARN_AT", "ClockSpec",
    "DefaultPolicy", "PolicyTarget", "SweepResult", "at_maximum", "calendar_of", "cancel", "clock_specs",
    "clocks_of", "clocks_of_subjects", "ensure_default_policies", "extend_statutory", "get_policy",
    "list_calendar_overrides", "list_policies", "meet", "new_clocks", "pause", "reference_cache", "refuse_at_maximum",
    "remove_calendar_override", "resume", "revise_policy",
    "select_policies", "set_calendar_override", "start_clock", "start_clocks", "sweep",
]
