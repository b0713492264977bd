import pytest

from infra.settings import SettingsError, load_settings


def test_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("BRIDGE_PORT", "not-a-port")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "BRIDGE_PORT" in str(err.value)


def test_bad_url_is_named(monkeypatch):
    monkeypatch.setenv("CHATWOOT_BASE_URL", "not a url")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "CHATWOOT_BASE_URL" in str(err.value)


def test_routing_keys_json_and_secrets_hidden(monkeypatch):
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS", '{"lola": "R0UT1NGKEYLOLA"}')
    monkeypatch.setenv("CHATWOOT_API_TOKEN", "TOPSECRETTOKEN")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:DBPASSWORD@h/db")
    s = load_settings(_env_file=None)
    assert s.routing_key_for("lola").get_secret_value() == "R0UT1NGKEYLOLA"
    text = repr(s) + str(s) + s.model_dump_json()
    for secret in ("R0UT1NGKEYLOLA", "TOPSECRETTOKEN", "DBPASSWORD"):
        assert secret not in text


def test_routing_keys_must_be_json(monkeypatch):
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEYS", "lola=abc")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "PAGERDUTY_ROUTING_KEYS" in str(err.value)
    assert "abc" not in str(err.value)


def test_inbox_policy_mapping(monkeypatch):
    monkeypatch.setenv("INBOX_POLICIES", '{"3": "ops-ladder"}')
    s = load_settings(_env_file=None)
    assert s.policy_for_inbox(3) == "ops-ladder"
    assert s.policy_for_inbox(4) == s.default_policy
