"""`fincare import tickets`: the CFPB export becomes historical complaints whose monthly report matches
counts taken straight from the CSV; re-runs create nothing; bad rows by line and column."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from fincare.customers.models import Customer
from fincare.platform.audit_trail.models import AuditEntry
from fincare.platform.db import unit_of_work
from fincare.platform.jobs.models import Job
from fincare.scorecard import periods
from fincare.scorecard.service.complaints import complaint_report
from fincare.servicedesk.models import ComplaintDecision, Ticket, TicketEvent
from fincare.sla.models import Clock
from tests.factories.customers import make_customer
from tests.platform.test_cli import fincare

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
SAMPLE = DATASETS / "cfpb_2015_2020_ziyuyan9" / "complaints_sample.csv"

# The documented mapping tables (README, `fincare.servicedesk.cfpb`), written out here for the
# values of the sample, so that the check does not lean on the importer's own code.
PRODUCT_TO_BUSINESS_TYPE = {
    "Credit reporting, credit repair services, or other personal consumer reports": "B06",
    "Debt collection": "B02",
    "Checking or savings account": "B01",
    "Bank account or service": "B01",
    "Credit card or prepaid card": "B03",
    "Credit card": "B03",
    "Mortgage": "B02",
    "Student loan": "B02",
    "Vehicle loan or lease": "B02",
    "Payday loan, title loan, or personal loan": "B02",
    "Consumer Loan": "B02",
    "Payday loan": "B02",
    "Money transfer, virtual currency, or money service": "B04",
}
SUBMITTED_VIA_TO_CHANNEL = {"Web": "web", "Phone": "phone", "Email": "email", "Postal mail": "branch",
                            "Fax": "branch", "Referral": "regulator_transfer"}
CHANNEL_TO_JRT = {"web": "A03", "phone": "A04", "email": "A99", "branch": "A01", "regulator_transfer": "A08"}

HEADER = ["Date received", "Product", "Sub-product", "Issue", "Sub-issue", "Consumer complaint narrative",
          "Company public response", "Company", "State", "ZIP code", "Tags", "Consumer consent provided?",
          "Submitted via", "Date sent to company", "Company response to consumer", "Timely response?",
          "Consumer disputed?", "Complaint ID"]


def cfpb_row(complaint_id: str, **overrides: str) -> dict[str, str]:
    row = {"Date received": "2019/4/2", "Product": "Debt collection", "Sub-product": "I do not know",
           "Issue": "Attempts to collect debt not owed", "Sub-issue": "Debt is not yours",
           "Consumer complaint narrative": "They keep calling about a debt that is not mine.",
           "Company public response": "", "Company": "ACME COLLECTIONS", "State": "FL", "ZIP code": "330XX",
           "Tags": "", "Consumer consent provided?": "Consent provided", "Submitted via": "Web",
           "Date sent to company": "2019/4/3", "Company response to consumer": "Closed with explanation",
           "Timely response?": "Yes", "Consumer disputed?": "N/A", "Complaint ID": complaint_id}
    return row | overrides


def write_cfpb(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    names = header or HEADER
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow([row[h] for h in HEADER])
    return path


def counts() -> dict[str, int]:
    with unit_of_work(read_only=True) as session:
        return {model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (Ticket, Customer, ComplaintDecision, TicketEvent, Clock, Job)}


def read_errors(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as report:
        return [(e["line"], e["column"], e["reason"]) for e in csv.DictReader(report)]


def csv_month(value: str) -> str:
    """The month of a `Date received` of the sample (written 2020/3/18), read independently."""
    year, month, _ = value.split("/")
    return f"{int(year)}-{int(month):02d}"


@pytest.mark.skipif(not SAMPLE.exists(), reason="the CFPB sample is not checked out beside the project")
def test_the_cfpb_sample_imports_and_every_monthly_report_matches_the_csv_by_product_and_channel(db: Engine) -> None:
    with SAMPLE.open(newline="", encoding="utf-8-sig") as source:
        records = list(csv.DictReader(source))
    by_business_type: dict[str, Counter[str]] = defaultdict(Counter)
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    by_jrt_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        month = csv_month(record["Date received"])
        channel = SUBMITTED_VIA_TO_CHANNEL[record["Submitted via"]]
        by_business_type[month][PRODUCT_TO_BUSINESS_TYPE[record["Product"]]] += 1
        by_channel[month][channel] += 1
        by_jrt_channel[month][CHANNEL_TO_JRT[channel]] += 1

    result = fincare("import", "tickets", str(SAMPLE), "--format", "cfpb", "--json")

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["created"], doc["customers_created"], doc["errors"]) == (len(records),) * 3 + (0,)
    after_first = counts()
    assert after_first["Ticket"] == after_first["Customer"] == after_first["TicketEvent"] == len(records)
    assert after_first["Clock"] == 0 and after_first["Job"] == 0  # history: no clocks, no follow-ups, no surveys
    with unit_of_work(read_only=True) as session:
        for month in sorted(by_channel):
            report = complaint_report(session, periods.parse(month))
            assert report.total == sum(by_channel[month].values()), month
            assert {line.key: line.count for line in report.by_business_type} == by_business_type[month], month
            assert {line.key: line.count for line in report.by_intake_channel} == by_channel[month], month
            assert {line.key: line.count for line in report.by_channel} == by_jrt_channel[month], month
        april = complaint_report(session, periods.parse("2019-04"))
        assert april.regulator_transferred == by_channel["2019-04"]["regulator_transfer"]
        assert april.within_deadline + april.past_deadline + april.still_open == april.total
        audit = session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.action.in_(["ticket.imported", "customer.imported"])).group_by(AuditEntry.action)).all()
        assert dict(audit) == {"ticket.imported": 4, "customer.imported": 4}  # one per batch of 2,000

    again = json.loads(fincare("import", "tickets", str(SAMPLE), "--format", "cfpb", "--json").stdout)

    assert (again["created"], again["skipped"], again["customers_created"]) == (0, len(records), 0)
    assert counts() == after_first


def test_a_cfpb_row_becomes_a_coded_decided_complaint_with_its_history_on_the_timeline(db: Engine,
                                                                                      tmp_path: Path) -> None:
    path = write_cfpb(tmp_path / "one.csv", [cfpb_row("3384392", **{
        "Company response to consumer": "Closed with monetary relief", "Timely response?": "No",
        "Submitted via": "Referral", "Issue": "Problem with fraud alerts or security freezes"})])

    assert fincare("import", "tickets", str(path), "--format", "cfpb").returncode == 0

    with unit_of_work(read_only=True) as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        assert (ticket.external_id, ticket.kind, ticket.channel, ticket.status, ticket.timely) == (
            "cfpb-3384392", "complaint", "regulator_transfer", "closed", False)
        assert (ticket.channel_code, ticket.business_type_code, ticket.cause_code) == ("A08", "B02", "C10")
        assert ticket.subject == "Problem with fraud alerts or security freezes"
        assert ticket.received_at.astimezone(ZoneInfo("Asia/Shanghai")).isoformat() == "2019-04-02T00:00:00+08:00"
        decision = session.get(ComplaintDecision, ticket.decision_id)
        assert decision is not None and decision.outcome == "upheld"
        event = session.execute(select(TicketEvent)).scalar_one()
        assert event.kind == "imported" and event.at.astimezone(ZoneInfo("Asia/Shanghai")).date() == date(2019, 4, 3)
        assert event.detail["company"] == "ACME COLLECTIONS" and "zip_code" not in event.detail
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None and (customer.external_id, customer.branch) == ("cfpb-3384392", "FL")


def test_underscore_headers_and_the_date_formats_of_such_exports_are_read(db: Engine, tmp_path: Path) -> None:
    header = [h.replace(" ", "_").lower() for h in HEADER]  # date_received, …, timely_response?, complaint_id
    dates = {"1": "2020/3/18", "2": "2020-03-18", "3": "03/18/2020", "4": "3/18/20", "5": "2020-03-18T00:00:00"}
    rows = [cfpb_row(n, **{"Date received": d, "Date sent to company": d}) for n, d in dates.items()]
    rows.append(cfpb_row("6", **{"Company response to consumer": "In progress"}))
    path = write_cfpb(tmp_path / "api-style.csv", rows, header)

    result = fincare("import", "tickets", str(path), "--format", "cfpb", "--json")

    assert result.returncode == 0, result.stderr
    with unit_of_work(read_only=True) as session:
        received = session.execute(select(Ticket.external_id, Ticket.received_at, Ticket.status)).all()
    local = {e: (r.astimezone(ZoneInfo("Asia/Shanghai")).date(), s) for e, r, s in received}
    assert {local[f"cfpb-{n}"][0] for n in dates} == {date(2020, 3, 18)}
    assert local["cfpb-6"][1] == "open"


def test_bad_rows_are_reported_by_line_and_column_and_nothing_is_written(db: Engine, tmp_path: Path) -> None:
    rows = [cfpb_row("1", **{"Consumer complaint narrative": "first line\nsecond line"}),  # lines 2–3
            cfpb_row("2", **{"Date received": "2019/13/45"}),  # line 4
            cfpb_row(""),  # line 5: no Complaint ID
            cfpb_row("4", **{"Submitted via": "Carrier pigeon"}),  # line 6
            cfpb_row("5")]
    path = write_cfpb(tmp_path / "in.csv", rows)

    result = fincare("import", "tickets", str(path), "--format", "cfpb", "--json")

    assert result.returncode == 1 and "nothing imported" in result.stderr
    assert json.loads(result.stdout)["imported"] is False
    assert counts()["Ticket"] == counts()["Customer"] == 0
    errors = read_errors(tmp_path / "in.csv.errors.csv")
    assert [(line, column) for line, column, _ in errors] == [
        ("4", "Date received"), ("5", "Complaint ID"), ("6", "Submitted via")]
    assert "not a date" in errors[0][2] and errors[1][2] == "required" and "unknown channel" in errors[2][2]
    assert all("Carrier pigeon" not in reason for _, _, reason in errors)  # no input values in the report


def test_skip_bad_rows_imports_the_good_ones(db: Engine, tmp_path: Path) -> None:
    rows = [cfpb_row("1"), cfpb_row("2", **{"Date received": "yesterday"}), cfpb_row("3"), cfpb_row("3")]
    path = write_cfpb(tmp_path / "in.csv", rows)

    result = fincare("import", "tickets", str(path), "--format", "cfpb", "--skip-bad-rows",
                     "--errors", str(tmp_path / "bad.csv"), "--json")

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["created"], doc["errors"], doc["error_report"]) == (2, 2, str(tmp_path / "bad.csv"))
    assert counts()["Ticket"] == 2
    assert [(line, column) for line, column, _ in read_errors(tmp_path / "bad.csv")] == [
        ("3", "Date received"), ("5", "Complaint ID")]  # the repeated Complaint ID: "appears earlier"


def test_a_missing_required_column_is_refused_before_anything_is_read(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("Date received,Product,Issue,Complaint ID\n2019/4/2,Mortgage,Closing,1\n", encoding="utf-8")

    result = fincare("import", "tickets", str(path), "--format", "cfpb")

    assert result.returncode == 1 and "submitted via" in result.stderr and counts()["Ticket"] == 0


def test_the_fincare_layout_goes_through_the_intake_rules(db: Engine, tmp_path: Path) -> None:
    customer = make_customer(external_id="C-1")
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "kind", "channel", "customer_external_id", "subject", "description",
                         "received_at", "risk_grade", "channel_code", "business_type_code", "cause_code", "outcome",
                         "resolved_at", "timely"])
        writer.writerow(["T-1", "complaint", "phone", "C-1", "年费争议", "客户对年费扣收有异议。",
                         "2026-03-02T10:00:00+08:00", "medium", "A04", "B03", "C08", "partly_upheld", "2026-03-09",
                         "yes"])
        writer.writerow(["T-2", "consultation", "wechat", "C-1", "理财咨询", "询问理财产品。", "2026-03-03", "", "", "",
                         "", "", "", ""])
        writer.writerow(["T-3", "complaint", "fax", "C-1", "x", "y", "2026-03-03", "", "", "", "", "", "", ""])
        writer.writerow(["T-4", "complaint", "web", "C-404", "x", "y", "2026-03-03", "", "", "", "", "", "", ""])
        writer.writerow(["T-5", "complaint", "web", "C-1", "x", "y", "2026-03-03", "", "A04", "B03", "C55", "", "",
                         ""])

    refused = fincare("import", "tickets", str(path), "--json")
    assert refused.returncode == 1
    assert [(line, column) for line, column, _ in read_errors(tmp_path / "tickets.csv.errors.csv")] == [
        ("4", "channel"), ("5", "customer_external_id"), ("6", "cause_code")]

    kept = fincare("import", "tickets", str(path), "--skip-bad-rows", "--json")
    assert json.loads(kept.stdout)["created"] == 2
    with unit_of_work(read_only=True) as session:
        tickets = {t.external_id: t for t in session.execute(select(Ticket)).scalars()}
        assert tickets["T-1"].customer_id == customer.id and tickets["T-1"].status == "closed"
        assert (tickets["T-1"].risk_grade, tickets["T-1"].cause_code, tickets["T-1"].timely) == ("medium", "C08", True)
        assert tickets["T-2"].status == "open" and tickets["T-2"].kind == "consultation"


FINCARE_HEADER = ["external_id", "kind", "channel", "customer_external_id", "subject", "description", "received_at",
                  "resolved_at"]


def fincare_row(external_id: str, **overrides: str) -> list[str]:
    row = {"external_id": external_id, "kind": "consultation", "channel": "phone", "customer_external_id": "C-1",
           "subject": "理财咨询", "description": "询问理财产品。", "received_at": "2026-03-02T10:00:00+08:00",
           "resolved_at": ""} | overrides
    return [row[h] for h in FINCARE_HEADER]


def write_fincare(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header or FINCARE_HEADER)
        writer.writerows(rows)
    return path


def test_times_utc_cannot_hold_and_a_resolution_in_the_future_are_row_errors(db: Engine, tmp_path: Path) -> None:
    make_customer(external_id="C-1")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    path = write_fincare(tmp_path / "tickets.csv", [
        fincare_row("T-1", received_at="9999-12-31T23:59:59-14:00"),  # line 2: past year 9999 in UTC
        fincare_row("T-2", resolved_at="0001-01-01T00:00:00+14:00"),  # line 3: before year 1 in UTC
        fincare_row("T-3", resolved_at="0001-01-01"),  # line 4: 00:00 local (UTC+8) is in year 0
        fincare_row("T-4", resolved_at=tomorrow),  # line 5
        fincare_row("T-5", resolved_at="2026-03-03T10:00:00+08:00")])

    result = fincare("import", "tickets", str(path), "--json")

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "nothing imported" in result.stderr and counts()["Ticket"] == 0
    errors = read_errors(tmp_path / "tickets.csv.errors.csv")
    assert [(line, column) for line, column, _ in errors] == [
        ("2", "received_at"), ("3", "resolved_at"), ("4", "resolved_at"), ("5", "resolved_at")]
    assert errors[0][2] == "out of range: from 2000-01-01 to now"
    assert errors[1][2] == "out of range: from received_at to now" and errors[3][2] == "cannot be in the future"


def test_a_control_character_in_a_cell_is_a_row_error_naming_its_column(db: Engine, tmp_path: Path) -> None:
    make_customer(external_id="C-1")
    path = write_fincare(tmp_path / "tickets.csv", [
        fincare_row("T-1", subject="年费\x00争议"),  # line 2: PostgreSQL cannot store a NUL
        fincare_row("T-2", description="响铃\x07"),  # line 3
        fincare_row("T-3", description="第一行\r\n第二行\t完"),  # lines 4–5: line breaks and tabs, as the API allows
        fincare_row("T-4\x1b")])  # line 6

    refused = fincare("import", "tickets", str(path), "--json")
    assert refused.returncode == 1 and counts()["Ticket"] == 0, refused.stderr
    errors = read_errors(tmp_path / "tickets.csv.errors.csv")
    assert [(line, column) for line, column, _ in errors] == [("2", "subject"), ("3", "description"),
                                                              ("6", "external_id")]
    assert {reason for _, _, reason in errors} == {"control characters are not allowed"}

    kept = fincare("import", "tickets", str(path), "--skip-bad-rows", "--json")
    assert json.loads(kept.stdout)["created"] == 1, kept.stderr
    with unit_of_work(read_only=True) as session:
        assert session.execute(select(Ticket.description)).scalar_one() == "第一行\r\n第二行\t完"


def test_a_control_character_in_a_cfpb_cell_is_a_row_error_naming_its_column(db: Engine, tmp_path: Path) -> None:
    path = write_cfpb(tmp_path / "in.csv", [cfpb_row("1", **{"Consumer complaint narrative": "They\x00 call"}),
                                            cfpb_row("2")])

    result = fincare("import", "tickets", str(path), "--format", "cfpb", "--json")

    assert result.returncode == 1 and counts()["Ticket"] == 0, result.stderr
    assert read_errors(tmp_path / "in.csv.errors.csv") == [
        ("2", "Consumer complaint narrative", "control characters are not allowed")]


def test_a_cfpb_day_outside_the_years_a_moment_holds_is_a_row_error(db: Engine, tmp_path: Path) -> None:
    path = write_cfpb(tmp_path / "in.csv", [cfpb_row("1", **{"Date received": "0001-01-01"}),
                                            cfpb_row("2", **{"Date sent to company": "9999-12-31"}), cfpb_row("3")])

    result = fincare("import", "tickets", str(path), "--format", "cfpb", "--json")

    assert result.returncode == 1 and counts()["Ticket"] == 0, result.stderr
    assert read_errors(tmp_path / "in.csv.errors.csv") == [
        ("2", "Date received", "a date between the years 1900 and 2999"),
        ("3", "Date sent to company", "a date between the years 1900 and 2999")]


@pytest.mark.parametrize("layout", ["fincare", "cfpb"])
def test_a_column_named_twice_is_refused_before_anything_is_read(db: Engine, tmp_path: Path, layout: str) -> None:
    make_customer(external_id="C-1")
    if layout == "fincare":
        path = write_fincare(tmp_path / "in.csv", [[*fincare_row("T-1"), "第二个主题"]], [*FINCARE_HEADER, "subject"])
        twice = "subject"
    else:
        header = [*HEADER, "date_received"]  # the same column as `Date received`, spelled as the API does
        path = tmp_path / "in.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerow([*cfpb_row("1").values(), "2019/4/5"])
        twice = "date_received"

    result = fincare("import", "tickets", str(path), "--format", layout)

    assert result.returncode == 1 and f"the column '{twice}' appears twice" in result.stderr, result.stderr
    assert counts()["Ticket"] == 0


@pytest.mark.parametrize("batch", ["1", "2000"])
def test_a_quoted_cell_that_never_ends_stops_the_import_naming_its_line(db: Engine, tmp_path: Path,
                                                                         batch: str) -> None:
    make_customer(external_id="C-1")
    path = write_fincare(tmp_path / "in.csv", [fincare_row("T-1"), fincare_row("T-2", description="多\n行")])
    with path.open("a", encoding="utf-8", newline="") as out:  # line 5: the subject's quote is never closed
        out.write('T-3,consultation,phone,C-1,"年费争议,询问。,2026-03-02T10:00:00+08:00,\r\n')
        out.writelines(",".join(fincare_row(f"T-{n}")) + "\r\n" for n in range(4, 9))

    result = fincare("import", "tickets", str(path), "--batch", batch, "--json")

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "not a readable UTF-8 CSV: line 5: a quoted cell" in result.stderr
    assert counts()["Ticket"] == 0  # all or nothing: not even the rows before it
