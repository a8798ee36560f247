"""Ray's authentication token is private to the user: created 0600 before a local Ray
starts (Ray itself would write it with the umask, readable by everyone on a shared
machine), a readable one is made private, another user's is refused; and Ray's token
warning is not printed on every start."""

import os
import stat
import subprocess
import sys

import pytest

from raygen.cluster import private_auth_token
from raygen.errors import RunError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        # set, then removed: monkeypatch restores the variable as it was after the test
        # (a delenv of an unset one would not, and the mode these tests set would leak)
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return tmp_path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_token_is_created_private(home):
    private_auth_token(create=True)
    token = home / ".ray" / "auth_token"
    assert mode(token) == 0o600 and mode(token.parent) == 0o700
    assert len(token.read_text()) == 64 and os.environ["RAY_AUTH_MODE"] == "token"


def test_a_readable_token_is_made_private(home):
    token = home / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("a" * 64)
    token.chmod(0o644)
    private_auth_token(create=False)
    assert mode(token) == 0o600 and token.read_text() == "a" * 64
    # connecting to a cluster: its head's mode holds, the token file does not turn it on
    assert "RAY_AUTH_MODE" not in os.environ


def test_another_users_token_is_refused(home, monkeypatch):
    token = home / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("a" * 64)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(token).st_uid + 1)
    with pytest.raises(RunError, match="owned by another user"):
        private_auth_token(create=True)


def test_a_token_in_the_environment_and_a_disabled_mode_are_left_alone(home, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_TOKEN", "b" * 64)
    private_auth_token(create=True)
    assert not (home / ".ray").exists()
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    private_auth_token(create=True)
    assert not (home / ".ray").exists()


def test_a_local_ray_starts_with_a_private_token_and_no_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)
    code = ("import ray; from raygen.cluster import connect\n"
            "from types import SimpleNamespace as N\n"
            "connect(N(address=None, num_cpus=1, num_gpus=0))\n"
            "print('RAN', ray.get(ray.remote(lambda: 1).remote())); ray.shutdown()")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=180)
    assert "RAN 1" in proc.stdout, proc.stderr[-2000:]
    assert mode(tmp_path / ".ray" / "auth_token") == 0o600
    assert "Token authentication is enabled" not in proc.stderr
