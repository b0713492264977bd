"""The start-up check of the packs the settings name (infra/startup_checks.py),
and the processes refusing to start on it; secrets from `_FILE` settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.settings import SECRET_FILE_SETTINGS, Settings, SettingsError, load_settings
from infra.startup_checks import PackMappingError, check_packs
from tests.helpers import POLICIES_DIR

TICKETFLOW = str(Path(sys.executable).parent / "ticketflow")
SHIPPED = ("lifecycle", "ops-ladder", "tier-escalation", "vip-concierge")
TYPO = "target: manager, severity: error"  # the first page of ops-ladder's S2 ladder


def settings(directory: Path, **kw: object) -> Settings:
    return load_settings(_env_file=None, policies_dir=directory, **kw)


@pytest.fixture(autouse=True)
def no_secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own settings (CI sets DATABASE_URL) stay out of these tests."""
    for name in SECRET_FILE_SETTINGS:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(f"{name.upper()}_FILE", raising=False)


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """A policies directory holding the four shipped packs."""
    for name in SHIPPED:
        shutil.copy(POLICIES_DIR / f"{name}.yaml", tmp_path / f"{name}.yaml")
    return tmp_path


def break_ops_ladder(directory: Path) -> int:
    """Misspell a party in ops-ladder; return the line of the mistake."""
    path = directory / "ops-ladder.yaml"
    text = path.read_text()
    assert TYPO in text
    path.write_text(text.replace(TYPO, TYPO.replace("manager", "managr"), 1))
    return text[: text.index(TYPO)].count("\n") + 1


def test_the_shipped_packs_pass():
    s = load_settings(
        _env_file=None,
        inbox_policies='{"3": "ops-ladder", "4": "lifecycle", "5": "tier-escalation"}',
        slack_bot_token="xoxb-test",
        smtp_url="smtp://localhost:2525",
    )
    checked = check_packs(s)
    assert sorted(checked.versions) == list(SHIPPED)
    assert checked.warnings == []


def test_a_pack_that_posts_to_slack_is_refused_without_slack_configured():
    s = load_settings(
        _env_file=None, inbox_policies='{"3": "ops-ladder"}', smtp_url="smtp://localhost:2525"
    )
    with pytest.raises(PackMappingError) as err:
        check_packs(s)
    text = str(err.value)
    assert "INBOX_POLICIES (inbox 3): pack 'ops-ladder' cannot run here" in text
    assert "`do: slack` but SLACK_BOT_TOKEN is not set" in text
    assert "ops-ladder.yaml:" in text  # placed at the step
    # E-mail alone: tier-escalation sends e-mail too.
    s = load_settings(
        _env_file=None, inbox_policies='{"5": "tier-escalation"}', slack_bot_token="xoxb-test"
    )
    with pytest.raises(PackMappingError, match=r"`do: email` but SMTP_URL is not set"):
        check_packs(s)


def test_a_missing_inbox_pack_is_refused_naming_setting_and_pack(packs):
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(packs, inbox_policies='{"3": "opsladder"}'))
    text = str(err.value)
    assert "INBOX_POLICIES (inbox 3): pack 'opsladder' is not in POLICIES_DIR" in text
    assert "ops-ladder" in text  # the packs that are there
    assert "policy_error" in text


def test_a_missing_default_pack_is_refused(packs):
    (packs / "vip-concierge.yaml").unlink()
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(packs))
    assert "DEFAULT_POLICY: pack 'vip-concierge' is not in POLICIES_DIR" in str(err.value)


def test_a_broken_pack_is_refused_with_its_first_problem_at_its_line(packs):
    line = break_ops_ladder(packs)
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(packs, inbox_policies='{"3": "ops-ladder", "7": "ops-ladder"}'))
    text = str(err.value)
    assert "INBOX_POLICIES (inboxes 3, 7): pack 'ops-ladder' does not load" in text
    assert f"{packs / 'ops-ladder.yaml'}:{line}:" in text
    assert "'managr'" in text and "did you mean 'manager'?" in text
    assert len(err.value.problems) == 1  # the default pack is fine


def test_every_bad_pack_is_named_at_once(packs):
    break_ops_ladder(packs)
    (packs / "vip-concierge.yaml").write_text("name: [vip\n")  # not YAML
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(packs, inbox_policies='{"3": "ops-ladder"}'))
    text = str(err.value)
    assert "DEFAULT_POLICY: pack 'vip-concierge' does not load" in text
    assert f"{packs / 'vip-concierge.yaml'}:" in text and "not valid YAML" in text
    assert "INBOX_POLICIES (inbox 3): pack 'ops-ladder' does not load" in text


def test_a_name_that_is_no_pack_name_and_a_missing_directory(tmp_path, packs):
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(packs, default_policy="../vip-concierge"))
    assert "DEFAULT_POLICY: pack '../vip-concierge' is not a pack name" in str(err.value)
    with pytest.raises(PackMappingError) as err:
        check_packs(settings(tmp_path / "nowhere"))
    assert "is not a directory" in str(err.value)


def test_a_pack_that_loads_but_pack_check_faults_is_a_warning(packs):
    path = packs / "vip-concierge.yaml"
    path.write_text(path.read_text().replace("\nversion:", "\ndescription: one\nversion:", 1))
    checked = check_packs(settings(packs))
    assert list(checked.versions) == ["vip-concierge"]
    [warning] = checked.warnings
    text = warning.format()
    assert text.startswith("DEFAULT_POLICY: pack 'vip-concierge' loads, but")
    assert f"{path}:" in text and "written twice" in text


# ------------------------------------------------------------ the processes


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`ticketflow ARGS` in `cwd` (no .env there), with these settings."""
    base = {k: v for k, v in os.environ.items() if k not in ("DEFAULT_POLICY", "INBOX_POLICIES")}
    return subprocess.run(
        [TICKETFLOW, *args],
        cwd=cwd,
        env={**base, "TEMPORAL_ADDRESS": "127.0.0.1:1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "bridge", "setup"])
def test_worker_bridge_and_setup_refuse_to_start(command, packs, tmp_path_factory):
    line = break_ops_ladder(packs)
    done = run(
        tmp_path_factory.mktemp("cwd"),
        command,
        POLICIES_DIR=str(packs),
        INBOX_POLICIES='{"3": "ops-ladder"}',
        WEBHOOK_SECRET="whsec-DO-NOT-PRINT",
        CHATWOOT_API_TOKEN="cw-token-DO-NOT-PRINT",
        DATABASE_URL="postgresql://u:pw-DO-NOT-PRINT@127.0.0.1:1/db",
    )
    assert done.returncode == 2, done.stderr
    assert f"INBOX_POLICIES (inbox 3): pack 'ops-ladder' does not load: {packs}" in done.stderr
    assert f"ops-ladder.yaml:{line}:" in done.stderr
    assert "DO-NOT-PRINT" not in done.stdout + done.stderr


# ------------------------------------------------------------ secrets from files


def test_every_secret_has_a_file_setting():
    secrets = {
        name
        for name, f in Settings.model_fields.items()
        if "SecretStr" in str(f.annotation) and not name.endswith("_file")
    }
    assert secrets == set(SECRET_FILE_SETTINGS)
    assert all(f"{name}_file" in Settings.model_fields for name in SECRET_FILE_SETTINGS)


def test_a_secret_is_read_from_its_file(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("cw-token-from-file\n")
    (tmp_path / "keys").write_text('{"lola": "rk-lola"}\n')
    (tmp_path / "dsn").write_text("postgresql://u:pw@db/tf\r\n")
    monkeypatch.setenv("CHATWOOT_API_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS_FILE", str(tmp_path / "keys"))
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "dsn"))
    s = load_settings(_env_file=None)
    assert s.chatwoot_api_token is not None
    assert s.chatwoot_api_token.get_secret_value() == "cw-token-from-file"
    assert s.routing_key_for("lola").get_secret_value() == "rk-lola"
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://u:pw@db/tf"
    # The settings hold the value, not the path: a child given them gets the value alone.
    assert s.chatwoot_api_token_file is None
    assert "cw-token-from-file" not in repr(s) + s.model_dump_json()


def test_a_child_process_given_the_settings_reads_them_back(tmp_path, monkeypatch):
    """`ticketflow dev` hands its settings to its worker as environment variables
    (infra/worker_process.py): the value, and no `_FILE` beside it."""
    from infra.worker_process import settings_env

    (tmp_path / "secret").write_text("whsec-from-file\n")
    monkeypatch.setenv("WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    env = settings_env(load_settings(_env_file=None))
    assert "WEBHOOK_SECRET_FILE" not in env
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = load_settings(_env_file=None)
    assert child.webhook_secret is not None
    assert child.webhook_secret.get_secret_value() == "whsec-from-file"


def test_a_secret_and_its_file_both_set_is_an_error_naming_both(tmp_path, monkeypatch):
    (tmp_path / "secret").write_text("whsec-in-file\n")
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec-in-env")
    monkeypatch.setenv("WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    text = str(err.value)
    assert "WEBHOOK_SECRET and WEBHOOK_SECRET_FILE are both set" in text
    assert "whsec-in-env" not in text and "whsec-in-file" not in text


def test_both_in_one_env_file_is_an_error_and_the_environment_wins_over_it(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("cw-token-from-file\n")
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"CHATWOOT_API_TOKEN=cw-dotenv\nCHATWOOT_API_TOKEN_FILE={tmp_path / 'token'}\n"
    )
    with pytest.raises(SettingsError, match="CHATWOOT_API_TOKEN and CHATWOOT_API_TOKEN_FILE"):
        load_settings(_env_file=env_file)
    env_file.write_text(f"CHATWOOT_API_TOKEN_FILE={tmp_path / 'token'}\n")
    monkeypatch.setenv("CHATWOOT_API_TOKEN", "cw-from-env")
    s = load_settings(_env_file=env_file)
    assert s.chatwoot_api_token is not None
    assert s.chatwoot_api_token.get_secret_value() == "cw-from-env"


def test_an_empty_plain_setting_does_not_count_as_set(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("wt-from-file")
    monkeypatch.setenv("WEBHOOK_TOKEN", "")  # what a compose file passes for an unset variable
    monkeypatch.setenv("WEBHOOK_TOKEN_FILE", str(tmp_path / "token"))
    s = load_settings(_env_file=None)
    assert s.webhook_token is not None
    assert s.webhook_token.get_secret_value() == "wt-from-file"


def test_an_unreadable_or_empty_secret_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TEMPORAL_API_KEY_FILE", str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("CONSOLE_OPERATORS_FILE", str(tmp_path / "empty"))
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    text = str(err.value)
    assert f"TEMPORAL_API_KEY_FILE: cannot read {tmp_path / 'missing'}" in text
    assert f"CONSOLE_OPERATORS_FILE: {tmp_path / 'empty'} is empty" in text


def test_a_bad_value_from_a_file_is_named_without_the_value(tmp_path, monkeypatch):
    (tmp_path / "keys").write_text("lola=rk-SECRET-lola\n")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS_FILE", str(tmp_path / "keys"))
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "PAGERDUTY_ROUTING_KEYS" in str(err.value)
    assert "rk-SECRET-lola" not in str(err.value)
