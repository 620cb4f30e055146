"""An operator's mistakes stop `hocvuso` at start-up with one line that names the setting (or
the file and line), never a traceback, and never a password."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from bot.db import migrate

PYTHON = [sys.executable, "-m", "bot.cli"]
SECRET_PASSWORD = "pw-never-shown-4471"


def run(tmp_path: Path, command: list[str], **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "HOCVUSO_"))}
    environ.setdefault("HOCVUSO_DATABASE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    environ.update(env)
    return subprocess.Popen(PYTHON + command, cwd=REPO_ROOT, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(REPO_ROOT / "knowledge", target)
    return target


def cases(tmp_path: Path) -> dict[str, tuple[list[str], dict, list[str]]]:
    """name: (command, environment, what the error must say)."""
    recursive = knowledge_copy(tmp_path / "recursive")
    glossary = recursive / "vi" / "glossary.yaml"
    lines = glossary.read_text(encoding="utf-8").count("\n")
    glossary.write_text(glossary.read_text(encoding="utf-8") + "loop: &x\n  again: *x\n", encoding="utf-8")
    no_assistant = knowledge_copy(tmp_path / "no-assistant")
    (no_assistant / "vi" / "assistant.yaml").unlink()
    empty = tmp_path / "empty.db"
    empty.touch()
    serve = ["serve"]
    return {
        "log level": (serve, {"HOCVUSO_LOG_LEVEL": "LOUD"}, ["HOCVUSO_LOG_LEVEL", "DEBUG"]),
        "time zone": (serve, {"HOCVUSO_TIMEZONE": "Mars/Olympus"}, ["HOCVUSO_TIMEZONE", "Asia/Ho_Chi_Minh"]),
        "port": (serve, {"HOCVUSO_PORT": "99999"}, ["HOCVUSO_PORT", "65535"]),
        "database garbage": (serve, {"HOCVUSO_DATABASE_URL": "garbage"}, ["HOCVUSO_DATABASE_URL", "sqlite:///"]),
        "database mysql": (serve, {"HOCVUSO_DATABASE_URL": f"mysql://root:{SECRET_PASSWORD}@localhost/x"},
                           ["HOCVUSO_DATABASE_URL", "PostgreSQL"]),
        "database unreachable": (["migrate"], {"HOCVUSO_DATABASE_URL":
                                               f"postgresql+psycopg://postgres:{SECRET_PASSWORD}@127.0.0.1:1/test"},
                                 ["HOCVUSO_DATABASE_URL", "cannot use the database", "127.0.0.1:1"]),
        "database unwritable": (["migrate"], {"HOCVUSO_DATABASE_URL": "sqlite:////proc/hocvuso/test.db"},
                                ["HOCVUSO_DATABASE_URL", "/proc/hocvuso"]),
        "database file missing": (serve, {}, ["HOCVUSO_DATABASE_URL", "missing.db", "hocvuso migrate"]),
        "database empty": (serve, {"HOCVUSO_DATABASE_URL": f"sqlite:///{empty}"},
                           ["HOCVUSO_DATABASE_URL", "empty", "hocvuso migrate"]),
        "send rate nan": (serve, {"HOCVUSO_SEND_RATE": "nan"}, ["HOCVUSO_SEND_RATE", "finite"]),
        "webhook not https": (serve, {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_URL": "ftp://x",
                                      "TELEGRAM_WEBHOOK_SECRET": "s" * 20}, ["TELEGRAM_WEBHOOK_URL", "https"]),
        "api not a url": (serve, {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_URL": "not-a-url"},
                          ["TELEGRAM_API_URL", "URL"]),
        "short admin token": (serve, {"HOCVUSO_ADMIN_TOKEN": "x"}, ["HOCVUSO_ADMIN_TOKEN", "32"]),
        "recursive yaml alias": (["content", "check"], {"HOCVUSO_KNOWLEDGE_DIR": str(recursive)},
                                 [f"vi/glossary.yaml:{lines + 1}", "alias"]),
        "missing assistant.yaml": (["content", "check"], {"HOCVUSO_KNOWLEDGE_DIR": str(no_assistant)},
                                   ["vi/assistant.yaml: file is missing"]),
    }


def test_bad_settings_and_content_name_what_to_fix(tmp_path):
    started = {name: run(tmp_path, command, **env) for name, (command, env, _) in cases(tmp_path).items()}
    expected = {name: says for name, (_, _, says) in cases(tmp_path / "again").items()}
    for name, process in started.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 2, f"{name}: exit {process.returncode}\n{out}\n{err}"
        assert "Traceback" not in err, f"{name}:\n{err}"
        for part in expected[name]:
            assert part in err, f"{name}: {part!r} not in:\n{err}"
        assert SECRET_PASSWORD not in out + err, name
        assert len(err.strip().splitlines()) <= 3, f"{name}: the error should be short:\n{err}"


def test_serve_never_creates_a_database_but_migrate_does(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'hocvuso.db'}"
    refused = run(tmp_path, ["serve"], HOCVUSO_DATABASE_URL=url)
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "hocvuso migrate" in err
    assert not (tmp_path / "var" / "hocvuso.db").exists()       # nothing was made silently
    made = run(tmp_path, ["migrate"], HOCVUSO_DATABASE_URL=url)
    out, err = made.communicate(timeout=60)
    assert made.returncode == 0, err
    assert (tmp_path / "var" / "hocvuso.db").is_file()


@pytest.mark.parametrize("command", [["admin", "list-tokens"], ["unanswered"]])
def test_admin_commands_do_not_create_a_database_either(tmp_path, command):
    process = run(tmp_path, command)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "hocvuso migrate" in err
    assert not (tmp_path / "missing.db").exists()


def test_a_migrated_database_is_accepted(tmp_path):
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    migrate(url)
    process = run(tmp_path, ["admin", "list-tokens"], HOCVUSO_DATABASE_URL=url)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
