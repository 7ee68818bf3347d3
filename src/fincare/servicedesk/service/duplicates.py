"""Duplicate and repeat complaints, detected at intake.

A complaint is a *possible duplicate* when the same customer complained of something similar in
the previous 7 days: similarity is the Jaccard index of character bigrams of subject and
description, which works for Chinese without segmentation as for English. A customer is a *repeat
complainant* with at least 2 earlier complaints in the previous 12 months. Both are flags for the
handler and the analysis; nothing is merged automatically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fincare.servicedesk.models import Ticket, TicketKind

DUPLICATE_WINDOW = timedelta(days=7)
REPEAT_WINDOW = timedelta(days=365)
REPEAT_AFTER = 2  # earlier complaints within the window
SIMILAR = 0.5  # Jaccard index of bigrams from which two complaints read as the same matter
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> set[str]:
    """Character bigrams of the text without spaces and punctuation, lower-cased."""
    cleaned = _NOISE.sub("", text.lower())
    return {cleaned[i:i + 2] for i in range(len(cleaned) - 1)} or ({cleaned} if cleaned else set())


def similarity(a: str, b: str) -> float:
    """Jaccard index of the two texts' bigrams, 0 to 1."""
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


@dataclass(frozen=True)
class Findings:
    possible_duplicate_of: Ticket | None
    repeat_complainant: bool


def examine(session: Session, *, customer_id: int, received_at: datetime, subject: str,
            description: str) -> Findings:
    """What the customer's earlier complaints say about a new one (one indexed query)."""
    earlier = session.execute(
        select(Ticket).where(Ticket.customer_id == customer_id, Ticket.kind == TicketKind.COMPLAINT,
                             Ticket.received_at >= received_at - REPEAT_WINDOW, Ticket.received_at <= received_at)
        .order_by(Ticket.received_at.desc()).limit(100)
    ).scalars().all()
    text = f"{subject} {description}"
    best, best_score = None, SIMILAR
    for ticket in earlier:
        if ticket.received_at < received_at - DUPLICATE_WINDOW:
            continue
        score = similarity(text, f"{ticket.subject} {ticket.description}")
        if score >= best_score:
            best, best_score = ticket, score
    return Findings(best, len(earlier) >= REPEAT_AFTER)
