"""Worker sizing comes from WORKER_* settings; the defaults hold 10k open tickets."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings import SettingsError, load_settings
from worker import worker_options


def test_defaults_cache_ten_thousand_tickets():
    opts = worker_options(load_settings(_env_file=None))
    assert opts["max_cached_workflows"] >= 10_000
    assert opts["max_concurrent_workflow_tasks"] >= 2
    assert "workflows" in opts["workflow_runner"].restrictions.passthrough_modules
    # longer than the SDK's 10 s: a burst of deadlines must not expire cached tickets' tasks
    assert opts["sticky_queue_schedule_to_start_timeout"].total_seconds() == 30
    assert opts["patch_activation_callback"] is None  # every patch the code knows is active


def test_worker_options_from_environment(monkeypatch):
    monkeypatch.setenv("WORKER_MAX_CACHED_WORKFLOWS", "2500")
    monkeypatch.setenv("WORKER_MAX_CONCURRENT_ACTIVITIES", "40")
    monkeypatch.setenv("WORKER_WORKFLOW_TASK_POLLERS", "3")
    monkeypatch.setenv("WORKER_STICKY_SCHEDULE_TO_START_SECONDS", "12.5")
    opts = worker_options(load_settings(_env_file=None))
    assert opts["max_cached_workflows"] == 2500
    assert opts["max_concurrent_activities"] == 40
    assert opts["workflow_task_poller_behavior"].maximum == 3
    assert opts["sticky_queue_schedule_to_start_timeout"].total_seconds() == 12.5


def test_dormant_patches_are_declined_for_new_runs_only_by_id(monkeypatch):
    """The first release of a rolling deploy (docs/deploying.md): the named ids stay off
    for new tickets, every other patch is on."""
    from temporalio.worker import PatchActivationInput

    monkeypatch.setenv("WORKER_DORMANT_PATCHES", " next-thing , other ")
    settings = load_settings(_env_file=None)
    assert settings.worker_dormant_patches == {"next-thing", "other"}
    decide = worker_options(settings)["patch_activation_callback"]
    fields = PatchActivationInput.__dataclass_fields__

    def ask(pid: str) -> bool:
        # only the patch id matters to the callback; every other field (whatever the SDK adds) None
        given: dict[str, Any] = {name: (pid if name == "patch_id" else None) for name in fields}
        return decide(PatchActivationInput(**given))

    assert not ask("next-thing") and not ask("other") and ask("ticket-inputs")


def test_bad_worker_option_is_named(monkeypatch):
    monkeypatch.setenv("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS" in str(err.value)


def test_worker_child_gets_the_dev_stacks_settings(monkeypatch):
    from pydantic import AnyHttpUrl, SecretStr

    from infra.worker_process import settings_env

    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(_env_file=None).model_copy(
        update={
            "temporal_address": "127.0.0.1:4321",
            "database_url": SecretStr("postgresql://u:pw@h/db"),
            "chatwoot_base_url": AnyHttpUrl("http://127.0.0.1:9999"),
            "chatwoot_api_token": SecretStr("tok"),
            "chatwoot_account_id": 1,
            "pagerduty_routing_keys": {"lola": SecretStr("K" * 32)},
            "inbox_policies": {3: "ops-ladder"},
            "worker_dormant_patches": frozenset({"a", "b"}),
        }
    )
    for k, v in settings_env(settings).items():
        monkeypatch.setenv(k, v)
    child = load_settings(_env_file=None)
    assert child == settings


def test_the_sandbox_is_entered_per_payload_only_when_a_codec_could_read_the_context():
    """With no codec and no external storage the serialization context changes no byte, so
    the runner answers it outside the sandbox; with a codec it is the SDK's own runner."""
    import dataclasses

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.converter import PayloadCodec
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    from infra.sandbox_runner import CodecFreeSandboxedRunner

    class Codec(PayloadCodec):
        async def encode(self, payloads):
            return list(payloads)

        async def decode(self, payloads):
            return list(payloads)

    settings = load_settings(_env_file=None)
    plain = worker_options(settings, pydantic_data_converter)["workflow_runner"]
    assert isinstance(plain, CodecFreeSandboxedRunner)
    with_codec = dataclasses.replace(pydantic_data_converter, payload_codec=Codec())
    runner = worker_options(settings, with_codec)["workflow_runner"]
    assert type(runner) is SandboxedWorkflowRunner
    assert runner.restrictions == plain.restrictions
