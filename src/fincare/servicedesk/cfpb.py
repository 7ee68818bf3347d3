"""The US CFPB consumer complaint export as historical complaints (`fincare import tickets --format cfpb`).

Headers in any case, with spaces or underscores (`Date received`, `Date_received`, `date_received`);
dates as `2020/3/18`, `2020-03-18`, `03/18/2020`, `3/18/20` or ISO date-times. Required: Date received, Product, Issue,
Submitted via, Complaint ID. Each row becomes a complaint of an anonymous individual customer
created for it (`external_id` `cfpb-{Complaint ID}`, its State as the customer's `branch`):

- Complaint ID → `external_id` `cfpb-{id}` (of the ticket and of its customer);
- Date received → `received_at`, 00:00 of that day in FINCARE_TIMEZONE;
- Submitted via → channel (`CFPB_CHANNELS`): Web → web, Phone → phone, Email → email,
  Postal mail / Fax → branch (paper), Referral / Web Referral → regulator_transfer;
  and the JR/T 0169 dimension A code from the channel (`CHANNEL_CODES`);
- Product → JR/T 0169 dimension B code by keyword (`PRODUCT_CODES`);
- Issue → subject, and the dimension C code by keyword (`ISSUE_CODES`);
- Consumer complaint narrative → description (a line naming product and issue when none was published);
- Date sent to company → an `imported` timeline event on that day, with the source's non-personal fields;
- Company response to consumer → the decision (`OUTCOMES`): monetary relief → upheld; non-monetary
  relief (or "relief") → partly_upheld; explanation / without relief / closed → not_upheld;
  In progress → open, no decision; Untimely response → closed without a decision;
- Timely response? → `ticket.timely`.

The export carries no date of the company's answer: a decision is dated on the day the complaint
was sent to the company, and `timely` (not that date) says whether it was in time. ZIP codes,
consent and the narrative's redactions stay as the source has them; ZIP is not stored.
"""

from __future__ import annotations

import re
from datetime import datetime

from fincare.customers.identity import redact_identifiers
from fincare.platform.errors import Invalid, Message
from fincare.servicedesk.history import TIMELY, Historical, local_midnight, parse_day, received_on, shorten
from fincare.servicedesk.models import Channel, Outcome, Priority, TicketKind
from fincare.servicedesk.service.rules import MAX_DESCRIPTION, MAX_SUBJECT

# -- the mapping tables (documented above and in the README) ------------------------------------------

CFPB_CHANNELS: dict[str, Channel] = {
    "web": Channel.WEB, "phone": Channel.PHONE, "email": Channel.EMAIL,
    "postal mail": Channel.BRANCH, "fax": Channel.BRANCH,  # paper, taken in like a counter letter
    "referral": Channel.REGULATOR_TRANSFER, "web referral": Channel.REGULATOR_TRANSFER,
}

# JR/T 0169-2018 dimension A (where the business was done) from the intake channel
CHANNEL_CODES: dict[Channel, str] = {
    Channel.BRANCH: "A01", Channel.WEB: "A03", Channel.ONLINE_CHAT: "A03", Channel.PHONE: "A04",
    Channel.APP: "A05", Channel.WECHAT: "A06", Channel.REGULATOR_TRANSFER: "A08", Channel.EMAIL: "A99",
}

# dimension B from the CFPB Product: the first keyword found in the lower-cased product wins
PRODUCT_CODES: tuple[tuple[str, str], ...] = (
    ("credit report", "B06"),  # credit reporting, credit repair: personal financial information
    ("credit card", "B03"), ("prepaid card", "B03"),
    ("checking", "B01"), ("savings", "B01"), ("bank account", "B01"),
    ("money transfer", "B04"), ("money service", "B04"), ("virtual currency", "B04"),
    ("mortgage", "B02"), ("loan", "B02"), ("lease", "B02"), ("debt collection", "B02"),
)
OTHER_BUSINESS = "B99"

# dimension C from the CFPB Issue: the first keyword found in the lower-cased issue wins
ISSUE_CODES: tuple[tuple[str, str], ...] = (
    ("identity theft", "C10"), ("fraud alert", "C10"), ("security freeze", "C10"),
    ("improper use of your report", "C10"), ("sharing of info", "C10"), ("share information", "C10"),
    ("monitoring", "C10"),
    ("fraud", "C09"), ("scam", "C09"), ("unauthorized", "C09"), ("stolen", "C09"), ("embezzlement", "C09"),
    ("money was not available", "C09"),
    ("advertising", "C04"), ("marketing", "C04"),
    ("disclosure", "C05"), ("notification", "C05"), ("false statements", "C05"), ("misleading", "C05"),
    ("customer service", "C01"), ("communication tactics", "C01"), ("threat", "C01"), ("contact", "C01"),
    ("didn't apply for", "C07"), ("add-on", "C07"),
    ("fee", "C08"), ("interest", "C08"), ("terms", "C08"), ("credit limit", "C08"), ("funds being low", "C08"),
    ("trouble using", "C02"), ("mobile wallet", "C02"), ("unable to get your credit report", "C02"),
    ("incorrect information", "C03"), ("investigation", "C03"), ("debt", "C03"), ("account", "C03"),
    ("loan", "C03"), ("lease", "C03"), ("mortgage", "C03"), ("payment", "C03"), ("payoff", "C03"),
    ("struggling", "C03"), ("applying", "C03"), ("getting", "C03"), ("closing", "C03"), ("transaction", "C03"),
    ("purchase", "C03"), ("settlement", "C03"), ("credited", "C03"), ("report", "C03"),
)
OTHER_CAUSE = "C99"

# Company response to consumer → (outcome or None, whether the complaint is closed)
OUTCOMES: dict[str, tuple[Outcome | None, bool]] = {
    "closed with monetary relief": (Outcome.UPHELD, True),
    "closed with non-monetary relief": (Outcome.PARTLY_UPHELD, True),
    "closed with relief": (Outcome.PARTLY_UPHELD, True),
    "closed with explanation": (Outcome.NOT_UPHELD, True),
    "closed without relief": (Outcome.NOT_UPHELD, True),
    "closed": (Outcome.NOT_UPHELD, True),
    "in progress": (None, False),
    "": (None, False),
    "untimely response": (None, True),  # the company never answered: closed by the CFPB, nothing decided
}


def _first_match(text: str, table: tuple[tuple[str, str], ...], default: str) -> str:
    lowered = text.lower()
    return next((code for keyword, code in table if keyword in lowered), default)


def business_type_code(product: str) -> str:
    return _first_match(product, PRODUCT_CODES, OTHER_BUSINESS)


def cause_code(issue: str) -> str:
    return _first_match(issue, ISSUE_CODES, OTHER_CAUSE)


# -- reading and validating ----------------------------------------------------------------------------

CFPB_REQUIRED = ("date received", "product", "issue", "submitted via", "complaint id")
# other spellings of the same column, as the CFPB's API and older exports write them
CFPB_ALIASES = {"timely": "timely response", "company response": "company response to consumer",
                "complaint what happened": "consumer complaint narrative", "tags": "tags",
                "sub product": "sub-product", "sub issue": "sub-issue"}
# the source's fields the timeline keeps (no ZIP, no narrative: the description has it)
CFPB_KEPT = ("product", "sub-product", "issue", "sub-issue", "company", "company public response",
             "company response to consumer", "timely response", "consumer disputed", "tags",
             "consumer consent provided", "submitted via", "date received", "date sent to company")


def cfpb_key(header: str) -> str:
    """`Date_received`, ` date received `, `DATE RECEIVED` → `date received`; `Timely response?` → `timely response`."""
    key = re.sub(r"[\s_]+", " ", header.strip().lstrip("\ufeff").lower()).rstrip("?").strip()
    return CFPB_ALIASES.get(key, key)


def parse_cfpb(line: int, raw: dict[str, str], now: datetime) -> Historical:
    """One CFPB row; Invalid names the canonical column at fault."""
    complaint_id = raw.get("complaint id", "")
    if not complaint_id:
        raise Invalid("required", field="complaint id")
    if not complaint_id.isascii() or not complaint_id.isalnum() or len(complaint_id) > 40:
        raise Invalid("letters and digits only, at most 40", field="complaint id")
    received_day = parse_day(raw.get("date received", ""), "date received")
    received_at = received_on(received_day, "date received", now)
    sent_at = received_at
    if raw.get("date sent to company"):
        sent_at = local_midnight(parse_day(raw["date sent to company"], "date sent to company"))
    via = raw.get("submitted via", "")
    channel = CFPB_CHANNELS.get(via.lower())
    if channel is None:
        raise Invalid(Message("unknown channel; one of {choices}",
                              choices=", ".join(sorted({k.title() for k in CFPB_CHANNELS})))
                      if via else "required", field="submitted via")
    product, issue = raw.get("product", ""), raw.get("issue", "")
    if not product:
        raise Invalid("required", field="product")
    if not issue:
        raise Invalid("required", field="issue")
    response = raw.get("company response to consumer", "")
    if response.lower() not in OUTCOMES:
        raise Invalid("unknown company response", field="company response to consumer")
    outcome, closed = OUTCOMES[response.lower()]
    timely_text = raw.get("timely response", "")
    if timely_text.lower() not in TIMELY:
        raise Invalid("Yes or No", field="timely response")
    narrative = raw.get("consumer complaint narrative", "")
    what = "; ".join(v for v in (product, raw.get("sub-product"), issue, raw.get("sub-issue")) if v)
    description = narrative or f"CFPB complaint {complaint_id} ({what}); no narrative was published."
    detail = {"source": "cfpb", "complaint_id": complaint_id,
              **{k.replace(" ", "_").replace("-", "_"): raw[k] for k in CFPB_KEPT if raw.get(k)}}
    return Historical(
        line=line, external_id=f"cfpb-{complaint_id}", customer_external_id=f"cfpb-{complaint_id}",
        customer_branch=raw.get("state") or None, kind=TicketKind.COMPLAINT, channel=channel,
        subject=shorten(issue, MAX_SUBJECT), description=redact_identifiers(shorten(description, MAX_DESCRIPTION)),
        received_at=received_at, risk_grade=None, priority=Priority.NORMAL,
        codes=(CHANNEL_CODES[channel], business_type_code(product), cause_code(issue)),
        timely=TIMELY[timely_text.lower()], outcome=outcome, closed_at=sent_at if closed else None,
        reply=redact_identifiers(shorten(f"{response}. {raw.get('company public response', '')}".strip(),
                                         MAX_DESCRIPTION)),
        event_at=sent_at, event_detail=detail, answered=outcome is not None or not closed)
