"""The `fincare` command line, run as a user runs it."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text


def fincare(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "fincare", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_users_create_prints_one_json_document_with_the_secrets_once(db: Engine) -> None:
    result = fincare("users", "create", "--username", "cli_agent", "--role", "agent",
                     "--department", "customer_service", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= {"id", "username", "role", "api_token", "one_time_password"}
    assert doc["username"] == "cli_agent" and doc["role"] == "agent"
    with db.connect() as connection:
        hashes = connection.execute(text("SELECT password_hash FROM staff_account")).scalars().all()
    assert doc["one_time_password"] not in "".join(hashes)


@pytest.mark.parametrize(("args", "reason"), [
    (["--username", "x", "--role", "wizard"], "unknown role"),
    (["--username", "x", "--role", "agent", "--department", "moon"], "department"),
])
def test_users_create_fails_with_a_one_line_reason(db: Engine, args: list[str], reason: str) -> None:
    result = fincare("users", "create", *args)
    assert result.returncode != 0
    assert reason in result.stderr
    assert result.stdout == ""


def test_audit_verify_exits_non_zero_and_names_the_first_bad_entry(db: Engine) -> None:
    assert fincare("users", "create", "--username", "a1", "--role", "agent").returncode == 0
    ok = fincare("audit", "verify", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    with db.begin() as connection:
        if db.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_guard"))
        else:
            connection.execute(text("DROP TRIGGER audit_entry_sealed"))
        connection.execute(text("UPDATE audit_entry SET actor_name = 'mallory' WHERE seq = 1"))
    broken = fincare("audit", "verify", "--json")
    assert broken.returncode != 0
    assert json.loads(broken.stdout)["first_bad_seq"] == 1
    assert "#1" in broken.stderr


def test_migrate_on_a_fresh_database(tmp_path: Path) -> None:
    result = fincare("migrate", "--json", env_extra={"FINCARE_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["revision"]


def test_production_without_a_master_key_refuses_with_a_clear_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FINCARE_MASTER_KEY", "FINCARE_MODE")}
    result = subprocess.run([sys.executable, "-m", "fincare", "migrate"], capture_output=True, text=True,
                            env={**env, "FINCARE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}, cwd=tmp_path,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "FINCARE_MASTER_KEY" in result.stderr


@pytest.mark.parametrize("content", [None, "changeme\n"])
def test_production_refuses_a_master_key_file_that_is_missing_or_a_placeholder(
        tmp_path: Path, content: str | None) -> None:
    key_file = tmp_path / "master.key"
    if content is not None:
        key_file.write_text(content)
    env = {k: v for k, v in os.environ.items() if k not in ("FINCARE_MASTER_KEY", "FINCARE_MODE")}
    env |= {"FINCARE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "FINCARE_MASTER_KEY_FILE": str(key_file)}
    for command in (["migrate"], ["serve", "--port", "1"], ["worker"]):
        result = subprocess.run([sys.executable, "-m", "fincare", *command], capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=120, check=False)
        assert result.returncode != 0, command
        assert "FINCARE_MASTER_KEY_FILE" in result.stderr and "Traceback" not in result.stderr, result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serving(port: int) -> subprocess.Popen[bytes]:
    """`fincare serve --workers 2` on `port`, once it answers."""
    server = subprocess.Popen([sys.executable, "-m", "fincare", "serve", "--port", str(port), "--workers", "2"],
                              env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            _out, err = server.communicate(timeout=30)
            raise AssertionError(f"fincare serve did not start: {err.decode(errors='replace')[-2000:]}")
        time.sleep(0.2)


def test_serve_with_two_workers_answers_and_stops_cleanly_on_sigterm(db: Engine) -> None:
    port = _free_port()
    server = _serving(port)
    try:
        # every connection is served, whichever process it is handed to
        answers = [httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() for _ in range(20)]
        assert answers == [{"status": "ok"}] * 20
        for workers in ("2", "1"):  # never silently shares the port
            taken = fincare("serve", "--port", str(port), "--workers", workers)
            assert taken.returncode != 0 and "cannot listen" in taken.stderr, taken.stderr
            assert "Traceback" not in taken.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            server.kill()
            raise


def test_server_processes_stop_when_their_parent_is_killed(db: Engine) -> None:
    """No orphan keeps serving (and holding the database's connections) after a kill -9 of `fincare serve`."""
    server = _serving(_free_port())
    children = [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
    try:
        workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2  # beside them multiprocessing's resource tracker, which must go too
        server.kill()
        server.wait(timeout=30)
        deadline = time.monotonic() + 30
        while alive := [pid for pid in children if _running(pid)]:
            assert time.monotonic() < deadline, f"server processes {alive} outlived their parent"
            time.sleep(0.2)
    except BaseException:  # a failed run leaves nothing serving behind
        server.kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # an exited process nobody has reaped yet is gone all the same
