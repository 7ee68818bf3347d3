"""`fincare`: the command line. Each command calls services inside one unit of work.

Every command accepts `--json` and then prints one JSON document on stdout. Failures exit
non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from fincare.platform.config import ConfigurationError, Mode, get_settings, reset_settings
from fincare.platform.errors import DomainError

app = typer.Typer(help="FinCare: customer protection and service quality.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk import from CSV.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of personal data.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for a period: `report complaints` (and `report kpi`).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(import_app, name="import")
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
err = Console(stderr=True)


def fail(reason: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {reason}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def emit(as_json: bool, doc: Any, human: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    else:
        human()


def _use_mode(mode: Mode) -> None:
    os.environ["FINCARE_MODE"] = mode.value
    reset_settings()


def _setup(*, log_json: bool | None = None) -> None:
    from fincare.platform.observability import configure_logging

    try:
        settings = get_settings()
    except ConfigurationError as exc:
        fail(str(exc))
    except ValueError as exc:  # pydantic's ValidationError wraps our ConfigurationError
        fail(str(exc).splitlines()[-1] if str(exc) else "invalid settings")
    if settings.mode is Mode.PRODUCTION:
        try:  # a key file that is missing or a placeholder: refused before anything starts
            settings.master_key_bytes()
        except ConfigurationError as exc:
            fail(str(exc))
    configure_logging(json_lines=settings.log_json if log_json is None else log_json)


def _check_master_key() -> None:
    """Refuse to go on with a master key that does not open this database's data keys. A database
    not migrated yet, or not reachable, is left for the command itself to report."""
    from sqlalchemy.exc import SQLAlchemyError

    from fincare.platform import keys
    from fincare.platform.db import set_engine, unit_of_work

    try:
        with unit_of_work(read_only=True) as session:
            keys.check_master_key(session)
    except ConfigurationError as exc:
        fail(str(exc))
    except SQLAlchemyError:
        pass
    finally:
        set_engine(None)  # `serve` keeps no idle connection in its parent; the others connect again on use


@app.command()
def migrate(as_json: JsonFlag = False) -> None:
    """Bring the database schema up to date."""
    _setup(log_json=False)
    from fincare.platform.migrations import head_revision, upgrade

    upgrade(get_settings().database_url)
    emit(as_json, {"revision": head_revision()}, lambda: err.print(f"schema at revision {head_revision()}"))


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          threads: Annotated[int | None, typer.Option(
              min=1, max=64, help="requests each process runs at once (default FINCARE_SERVER_THREADS, 2)")] = None,
          as_json: JsonFlag = False) -> None:
    """Serve the console and the API on FINCARE_DATABASE_URL."""
    if threads is not None:
        os.environ["FINCARE_SERVER_THREADS"] = str(threads)  # read by each server process's settings
        reset_settings()
    _setup()
    _check_master_key()
    from fincare.serving import WorkerCrashed
    from fincare.serving import serve as run_server

    try:
        run_server(host=host, port=port, workers=workers)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    except WorkerCrashed as exc:
        fail(str(exc))


@app.command()
def worker(as_json: JsonFlag = False) -> None:
    """Run background work until stopped; several may run against PostgreSQL."""
    _setup()
    _check_master_key()
    from fincare.worker import run_worker

    run_worker()


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=0, help="Customers to create.")] = 10_000,
    months: Annotated[int, typer.Option(min=1, max=36, help="Months of history.")] = 12,
    host: str = "127.0.0.1",
    port: int = 8000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed makes the same institution.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Create (or reuse) a demo institution on SQLite and serve it with an in-process worker."""
    _use_mode(Mode.DEMO)
    os.environ.setdefault("FINCARE_LOG_JSON", "false")  # a person is watching this terminal
    reset_settings()
    _setup()
    import uvicorn

    from fincare.demo import ensure_demo
    from fincare.platform.migrations import upgrade
    from fincare.worker import start_in_thread

    settings = get_settings()
    settings.master_key_bytes()  # create the demo key file now, with its warning
    upgrade(settings.database_url)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # on stderr: with --json, stdout carries only the JSON document
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=as_json) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            step = "customers" if what == "customers" else "history"
            if step not in tasks:
                tasks[step] = bar.add_task("demo customers" if step == "customers" else "demo history (months)",
                                           total=total)
            bar.update(tasks[step], completed=done, total=total,
                       description="demo customers" if step == "customers" else f"demo history {what}")

        logins = ensure_demo(customers=customers, months=months, seed=seed, progress=progress)
    url = f"http://{host}:{port}"
    doc = {"url": url, "logins": [vars(login) for login in logins]}

    def show() -> None:
        out = Console()
        table = Table(title=f"FinCare demo — {url}")
        for column in ("username", "password", "roles", "two-factor"):
            table.add_column(column)
        for login in logins:
            table.add_row(login.username, login.password, ", ".join(login.roles),
                          "yes: code on the sign-in page" if login.two_factor else "")
        out.print(table)
        out.print(f"Open [bold]{url}[/bold]  (Ctrl-C to stop)")

    emit(as_json, doc, show)
    sys.stdout.flush()
    _thread, stop = start_in_thread()
    try:
        uvicorn.run("fincare.app:serve_app", factory=True, host=host, port=port, log_config=None,
                    server_header=False)
    finally:
        stop.set()


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[list[str], typer.Option(help="Role (repeat for several).")],
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a staff account; prints its one-time password and API token once."""
    _setup(log_json=False)
    from fincare.platform.accounts import service
    from fincare.platform.db import unit_of_work
    from fincare.platform.permissions import SYSTEM, Role

    try:
        roles = [Role(r) for r in role]
    except ValueError:
        fail(f"unknown role in {role}; one of {', '.join(r.value for r in Role)}")
    try:
        with unit_of_work() as session:
            new = service.create_account(session, actor=SYSTEM, username=username, roles=roles,
                                         department_code=department)
            doc = {"id": new.account.id, "username": new.account.username,
                   "role": ",".join(new.account.role_names), "api_token": new.api_token,
                   "one_time_password": new.one_time_password}
    except DomainError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    emit(as_json, doc, lambda: Console().print(
        f"created {doc['username']} ({doc['role']})\n  one-time password: {doc['one_time_password']}\n"
        f"  API token: {doc['api_token']}\nBoth are shown only now."))


@users_app.command("totp-code")
def users_totp_code(username: Annotated[str, typer.Option()], as_json: JsonFlag = False) -> None:
    """Print an account's current one-time code (demo mode only)."""
    _setup(log_json=False)
    from fincare.platform.accounts import service
    from fincare.platform.db import unit_of_work

    if get_settings().mode is not Mode.DEMO:
        fail("only in demo mode (FINCARE_MODE=demo)")
    with unit_of_work() as session:
        account = service.get_account_by_username(session, username)
        if account is None:
            fail(f"no account {username}")
        code = service.current_totp_code(account)
    emit(as_json, {"username": username, "code": code}, lambda: Console().print(code))


@audit_app.command("verify")
def audit_verify(as_json: JsonFlag = False) -> None:
    """Verify the audit trail; exits non-zero and names the first bad entry if it was altered."""
    _setup(log_json=False)
    from fincare.platform import audit_trail
    from fincare.platform.db import unit_of_work

    with unit_of_work() as session:
        result = audit_trail.verify(session)
    emit(as_json, result.as_dict(), lambda: Console().print(
        f"audit trail intact: {result.checked} entries" if result.ok else
        f"audit trail BROKEN at entry #{result.first_bad_seq} (id {result.first_bad_id}): {result.problem}"))
    if not result.ok:
        err.print(f"first bad entry #{result.first_bad_seq}: {result.problem}", highlight=False)
        raise typer.Exit(2)


@import_app.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")],
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows/--all-or-nothing",
        help="Import the good rows and report the bad ones, or (default) import nothing if any row is bad.")] = False,
    errors: Annotated[Path | None, typer.Option(help="Where to write the error report (default FILE.errors.csv).")]
    = None,
    batch: Annotated[int, typer.Option(min=1, max=20_000)] = 2000,
    workers: Annotated[int | None, typer.Option(
        min=0, help="Processes validating and encrypting ahead of the writer "
                    "(0: none; default: one per core, on SQLite one fewer; at most 4).")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Import customers (columns in `fincare.customers.importer`); re-running updates, never duplicates."""
    _setup(log_json=False)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from fincare.customers import importer
    from fincare.platform.db import bulk_writes
    from fincare.platform.permissions import Principal
    from fincare.registry import load_models

    load_models()
    _check_master_key()
    actor = Principal(account_id=None, username=f"import:{file.name}")
    totals = importer.ImportTotals()
    report = _writable_report(errors or _default_report(file))
    size = max(file.stat().st_size, 1)

    class Aborted(Exception):
        """All-or-nothing import with bad rows: roll everything back."""

    def run(stream: Any, progress: Progress, task: Any) -> None:
        def after_batch() -> None:
            progress.update(task, completed=stream.buffer.tell())

        rows = importer.read_rows(stream)
        with bulk_writes(each_unit_commits=skip_bad_rows) as unit:  # skip: each batch commits on its own
            importer.run_import(rows, actor=actor, totals=totals, batch_size=batch, transaction=unit,
                                after_batch=after_batch, workers=workers)
            if totals.errors and not skip_bad_rows:
                raise Aborted

    try:
        with importer.open_csv(file) as stream, Progress(
            TextColumn("[bold]importing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(), console=err, disable=as_json,
        ) as progress:
            task = progress.add_task("import", total=size)
            run(stream, progress, task)
    except Aborted:
        pass
    except DomainError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"the file is not a readable UTF-8 CSV: {exc}")
    if totals.errors:
        importer.write_errors(report, totals.errors)
    written = not totals.errors or skip_bad_rows
    doc = {"rows": totals.rows, "created": totals.created if written else 0,
           "updated": totals.updated if written else 0, "errors": len(totals.errors),
           "error_report": str(report) if totals.errors else None,
           "imported": written}
    emit(as_json, doc, lambda: Console().print(
        f"{doc['rows']} rows: {doc['created']} created, {doc['updated']} updated, {doc['errors']} rejected"
        + (f" (see {report})" if totals.errors else "")
        + ("" if written else " — nothing was imported (all-or-nothing; use --skip-bad-rows)")))
    if not written:
        first = min(totals.errors, key=lambda e: e.line)
        err.print(f"{len(totals.errors)} bad rows, first at line {first.line} ({first.column}: {first.reason}); "
                  "nothing imported", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@import_app.command("tickets")
def import_tickets(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")],
    format: Annotated[str, typer.Option(
        "--format", help="fincare (FinCare's own columns) or cfpb (the US CFPB complaint export).")] = "fincare",
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows/--all-or-nothing",
        help="Import the good rows and report the bad ones, or (default) import nothing if any row is bad.")] = False,
    errors: Annotated[Path | None, typer.Option(help="Where to write the error report (default FILE.errors.csv).")]
    = None,
    batch: Annotated[int, typer.Option(min=1, max=20_000)] = 2000,
    as_json: JsonFlag = False,
) -> None:
    """Import historical tickets (layouts in `fincare.servicedesk.importer`); re-running skips what exists."""
    _setup(log_json=False)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from fincare.customers.importer import open_csv, write_errors
    from fincare.platform.db import bulk_writes
    from fincare.platform.permissions import SYSTEM
    from fincare.registry import load_models
    from fincare.servicedesk import importer

    load_models()
    if format not in {f.value for f in importer.Format}:
        fail(f"--format is one of {', '.join(f.value for f in importer.Format)}")
    # the operator at the console acts as the system, under the file's name in the audit trail
    actor = dataclasses.replace(SYSTEM, username=f"import:{file.name}")
    report = _writable_report(errors or _default_report(file))
    size = max(file.stat().st_size, 1)
    totals = importer.ImportTotals()

    class Aborted(Exception):
        """All-or-nothing import with bad rows: roll everything back."""

    try:
        with open_csv(file) as stream, Progress(
            TextColumn("[bold]importing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(), console=err, disable=as_json,
        ) as progress:
            task = progress.add_task("import", total=size)
            source = importer.read_rows(stream, importer.Format(format))

            def after_batch() -> None:
                progress.update(task, completed=stream.buffer.tell())

            with bulk_writes(each_unit_commits=skip_bad_rows) as unit:  # skip: each batch commits on its own
                totals = importer.run_import(source, actor=actor, batch_size=batch, transaction=unit,
                                             after_batch=after_batch)
                if totals.errors and not skip_bad_rows:
                    raise Aborted
    except Aborted:
        pass
    except DomainError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"the file is not a readable UTF-8 CSV: {exc}")
    if totals.errors:
        write_errors(report, totals.errors)
    written = not totals.errors or skip_bad_rows
    doc = {"rows": totals.rows, "created": totals.created if written else 0,
           "skipped": totals.skipped if written else 0,
           "customers_created": totals.customers_created if written else 0, "errors": len(totals.errors),
           "error_report": str(report) if totals.errors else None, "imported": written, "format": format}
    emit(as_json, doc, lambda: Console().print(
        f"{doc['rows']} rows: {doc['created']} tickets created, {doc['skipped']} already imported, "
        f"{doc['errors']} rejected" + (f" (see {report})" if totals.errors else "")
        + ("" if written else " — nothing was imported (all-or-nothing; use --skip-bad-rows)")))
    if not written:
        first = min(totals.errors, key=lambda e: e.line)
        err.print(f"{len(totals.errors)} bad rows, first at line {first.line} ({first.column}: {first.reason}); "
                  "nothing imported", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


# -- reports: one command per report, each `--period P --format …` -----------------------------------

PeriodOption = Annotated[str, typer.Option(help="2026-10, 2026-Q3, 2026-H2, 2026 or 2026-10-01..2026-10-15.")]
OutputOption = Annotated[Path | None, typer.Option(
    "--output", dir_okay=False, help="Write the report to this file (xlsx: default complaints-PERIOD.xlsx).")]


def _default_report(file: Path) -> Path:
    """FILE.errors.csv beside the file, or in the working directory when the file's folder is read-only."""
    beside = file.with_name(file.name + ".errors.csv")
    writable = os.access(beside if beside.exists() else file.parent, os.W_OK)
    return beside if writable else Path.cwd() / beside.name


def _writable_report(path: Path) -> Path:
    """`path` if an error report can be written there; checked before any row is, so a bad path
    never ends an import that has already committed rows."""
    if not path.parent.is_dir():
        fail(f"errors: the folder {path.parent} does not exist")
    if path.is_dir() or not os.access(path if path.exists() else path.parent, os.W_OK):
        fail(f"errors: cannot write the error report to {path}")
    return path


def _write_report(output: Path, content: str | bytes) -> None:
    """A report to its file (bytes: a workbook; text: UTF-8), or exit with the reason."""
    try:
        if isinstance(content, bytes):
            output.write_bytes(content)
        else:
            output.write_text(content, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


@report_app.command("complaints")
def report_complaints(
    period: PeriodOption,
    format: Annotated[str, typer.Option("--format", help="table, json, csv or xlsx.")] = "table",
    output: OutputOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The complaint report: totals and breakdowns by JR/T 0169 code, channel, region, risk grade, deadline."""
    _setup(log_json=False)
    from fincare.platform.db import unit_of_work
    from fincare.registry import load_models
    from fincare.scorecard import periods
    from fincare.scorecard.service import complaints

    load_models()
    if format not in ("table", "json", "csv", "xlsx"):
        fail("--format is one of table, json, csv, xlsx")
    try:
        chosen = periods.parse(period)
        with unit_of_work(read_only=True) as session:
            report = complaints.complaint_report(session, chosen)
    except DomainError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    doc = report.as_dict()
    if format == "xlsx" and output is None:
        output = Path(f"complaints-{chosen.label}.xlsx")
    if output is not None:
        _write_report(output, complaints.to_xlsx(report) if format == "xlsx" else
                      json.dumps(doc, ensure_ascii=False, indent=2) + "\n" if format == "json" else
                      complaints.to_csv(report))  # csv, and table written to a file
        emit(as_json, {**doc, "output": str(output)},
             lambda: err.print(f"complaint report {chosen.label} written to {output}", highlight=False))
        return
    if as_json or format == "json":
        emit(True, doc, lambda: None)
    elif format == "csv":
        sys.stdout.write(complaints.to_csv(report))
    else:
        _complaint_table(report)


def _complaint_table(report: Any) -> None:
    from fincare.scorecard.service import complaints

    out = Console()
    summary = Table(title=f"Complaint report {report.period.label} ({report.period.first} – {report.period.last})")
    summary.add_column("figure")
    summary.add_column("count", justify="right")
    for key, zh, en in complaints.FIGURES:
        summary.add_row(f"{zh} {en}", str(report.figure(key)))
    out.print(summary)
    for key, zh, en in complaints.SECTIONS:
        table = Table(title=f"{zh} {en}")
        for column, justify in (("key", "left"), ("name", "left"), ("count", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for line in report.section(key):
            table.add_row(line.key, f"{line.name_zh} {line.name_en}", str(line.count))
        out.print(table)


@report_app.command("kpi")
def report_kpi(
    period: PeriodOption,
    format: Annotated[str, typer.Option("--format", help="table, json, csv or xlsx.")] = "table",
    department: Annotated[str | None, typer.Option(help="Only this owner department's KPIs (a code).")] = None,
    output: OutputOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The KPI scorecard for a period; XLSX has a sheet per owner department (the quarterly report)."""
    _setup(log_json=False)
    from fincare.platform.accounts import service as accounts
    from fincare.platform.db import unit_of_work
    from fincare.registry import load_models
    from fincare.scorecard import periods, service
    from fincare.scorecard.service import kpi_report

    load_models()
    if format not in ("table", "json", "csv", "xlsx"):
        fail("--format is one of table, json, csv, xlsx")
    try:
        chosen = periods.parse(period)
        with unit_of_work() as session:  # a closed period's first reading takes its snapshot
            results = [r for r in service.scorecard(session, chosen) if department in (None, r.kpi.owner)]
            names = {d.code: d.name_zh for d in accounts.list_departments(session)}
    except DomainError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)
    if not results:
        fail(f"department: no KPI is owned by {department!r}")
    doc = {"period": chosen.label, "kpis": [kpi_report.row_of(r) for r in results]}
    if format == "xlsx" and output is None:
        output = Path(f"kpi-{chosen.label}{'-' + department if department else ''}.xlsx")
    if output is not None:
        _write_report(output, kpi_report.to_xlsx(results, chosen.label, names) if format == "xlsx" else
                      json.dumps(doc, ensure_ascii=False, indent=2) + "\n" if format == "json" else
                      kpi_report.to_csv(results))
        emit(as_json, {**doc, "output": str(output)},
             lambda: err.print(f"KPI report {chosen.label} written to {output}", highlight=False))
        return
    if as_json or format == "json":
        emit(True, doc, lambda: None)
    elif format == "csv":
        sys.stdout.write(kpi_report.to_csv(results))
    else:
        table = Table(title=f"KPI scorecard {chosen.label} ({chosen.first} – {chosen.last})")
        for column in ("KPI", "owner", "target", "actual", "met", "note"):
            table.add_column(column)
        for r in results:
            sign = {"ge": "≥", "le": "≤", "lt": "<"}[r.kpi.direction]
            actual = "—" if r.actual is None else f"{r.actual:.4g}"
            met = "" if r.met is None else ("met" if r.met else "NOT met")
            table.add_row(f"{r.kpi.name_zh} {r.kpi.key}", r.kpi.owner, f"{sign} {r.kpi.target:g} {r.kpi.unit}", actual,
                          met, r.reason or (f"revision {r.revision}" if r.revision and r.revision > 1 else ""))
        Console().print(table)


@keys_app.command("rotate")
def keys_rotate(batch: Annotated[int, typer.Option(min=1, max=50_000)] = 1000, as_json: JsonFlag = False) -> None:
    """Re-encrypt all personal data under a new data-key version, online; safe to interrupt and re-run."""
    _setup(log_json=False)
    from rich.progress import Progress

    from fincare.platform import keys
    from fincare.registry import load_models

    load_models()
    with Progress(console=err, disable=as_json) as progress:
        task = progress.add_task("re-encrypting", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = keys.rotate(batch=batch, progress=report)
    doc = {"version": result.version, "reencrypted": result.reencrypted, "retired": result.retired}
    emit(as_json, doc, lambda: Console().print(
        f"data key version {result.version} in use; {result.reencrypted} rows re-encrypted; "
        f"retired: {', '.join(map(str, result.retired)) or 'none'}"))


def main() -> None:
    try:
        app()
    except ConfigurationError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
