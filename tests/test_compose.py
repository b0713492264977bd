"""No Docker engine runs here, so check docker-compose.yml's structure:
every service the README names is there, with its ports, health check and
the volumes it needs."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]

# service -> published host port (None: none published), as the README's table says
EXPECTED = {
    "temporal": "7233",
    "temporal-ui": "8233",
    "ticketflow-db": "5433",
    "temporal-db": None,
    "worker": None,
    "bridge": "8080",
    "setup": None,
}


def _host_ports(svc: dict) -> set[str]:
    return {str(p).split(":")[0] for p in svc.get("ports", [])}


def test_every_service_is_there_with_its_ports():
    assert set(EXPECTED) <= set(SERVICES)
    for name, port in EXPECTED.items():
        if port:
            assert port in _host_ports(SERVICES[name]), name


def test_long_running_services_have_health_checks():
    for name in ("temporal", "temporal-ui", "ticketflow-db", "temporal-db", "worker", "bridge"):
        assert "healthcheck" in SERVICES[name], name


def test_databases_use_named_volumes():
    for name in ("temporal-db", "ticketflow-db"):
        volume = SERVICES[name]["volumes"][0].split(":")[0]
        assert volume in COMPOSE["volumes"]


def test_official_images_and_built_services():
    assert SERVICES["temporal"]["image"].startswith("temporalio/")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui")
    for name in ("worker", "bridge", "setup"):
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert (ROOT / "Dockerfile").exists()


def test_readme_names_the_services_and_ports():
    readme = (ROOT / "README.md").read_text()
    for name, port in EXPECTED.items():
        assert f"`{name}`" in readme, name
        if port:
            assert port in readme


# ----------------------------------------------------------- metrics: Prometheus, Grafana

METRICS_SERVICES = {"prometheus": "9090", "grafana": "3000"}
BUSINESS_METRICS = (
    "ticketflow_tickets_opened_total",
    "ticketflow_sla_breaches_total",
    "ticketflow_pages_total",
    "ticketflow_handoffs_total",
    "ticketflow_escalations_total",
    "ticketflow_tickets_escalated_total",
    "ticketflow_steps_missed_total",
    "ticketflow_breach_lateness_seconds",
    "ticketflow_bridge_webhooks_total",
    "ticketflow_bridge_webhook_duration_seconds",
    "ticketflow_bridge_unavailable_total",
)


def _mounts(svc: dict) -> dict[str, str]:
    """container path -> repository path, for the bind mounts of the repository's files."""
    out = {}
    for v in svc.get("volumes", []):
        src, dst = v.split(":")[:2]
        if src.startswith("./"):
            out[dst] = src
    return out


def test_prometheus_and_grafana_are_there_with_ports_health_and_volumes():
    for name, port in METRICS_SERVICES.items():
        svc = SERVICES[name]
        assert port in _host_ports(svc), name
        assert "healthcheck" in svc, name
        assert svc["volumes"][0].split(":")[0] in COMPOSE["volumes"], (
            name
        )  # data survives a restart
        for src in _mounts(svc).values():
            assert (ROOT / src).exists(), src
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:")


def test_prometheus_scrapes_the_worker_runtime_and_the_bridge():
    config_path = _mounts(SERVICES["prometheus"])["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load((ROOT / config_path).read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    worker = SERVICES["worker"]
    host, _, port = worker["environment"]["WORKER_METRICS_ADDRESS"].rpartition(":")
    assert (
        host == "0.0.0.0"
        and f"worker:{port}" in targets
        and port in [str(p) for p in worker["expose"]]
    )
    assert "bridge:8080" in targets
    assert worker["environment"]["DATABASE_URL"]  # the override keeps the shared settings


def test_grafana_provisions_the_datasource_and_a_dashboard_with_every_metric():
    mounts = _mounts(SERVICES["grafana"])
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "ticketflow.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboards = ROOT / mounts[provider["options"]["path"]]
    import json

    dashboard = json.loads((dashboards / "ticketflow.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for metric in BUSINESS_METRICS:
        assert any(metric in e for e in exprs), metric
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]} | {
        t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]
    }
    assert uids == {datasource["uid"]}
    assert any("by (pack, clock)" in e for e in exprs) and any("by (target)" in e for e in exprs)
    assert any("by (outcome)" in e for e in exprs) and any("by (event, status)" in e for e in exprs)


def test_metrics_readme_section_names_the_services_and_ports():
    text = (ROOT / "docs" / "operating.md").read_text()
    for name, port in METRICS_SERVICES.items():
        assert f"`{name}`" in text and port in text
    for metric in BUSINESS_METRICS:
        assert metric in text, metric


# ------------------------------------------------------ Temporal on supported images

ONE_SHOTS = {
    "temporal-schema": "temporal-db",
    "temporal-namespace": "temporal",
    "setup": "temporal-namespace",
}


def _waits_for(svc: dict) -> dict[str, str]:
    return {
        name: dep.get("condition", "service_started")
        for name, dep in svc.get("depends_on", {}).items()
    }


def test_no_deprecated_auto_setup_image():
    images = {name: svc.get("image", "") for name, svc in SERVICES.items()}
    assert not [name for name, image in images.items() if "auto-setup" in image]
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-namespace"].startswith("temporalio/admin-tools:")


def test_temporal_images_match_the_server_the_suite_runs():
    """The compose stack runs the Temporal server and UI versions that the
    pinned `temporal` CLI (the dev server of `make dev` and the tests) embeds."""
    import re
    import subprocess

    from infra.temporal import venv_binary

    out = subprocess.run(
        [str(venv_binary("temporal")), "--version"], capture_output=True, text=True, check=True
    ).stdout
    server, ui = re.search(r"Server ([\d.]+), UI ([\d.]+)", out).groups()
    assert SERVICES["temporal"]["image"] == f"temporalio/server:{server}"
    assert (
        SERVICES["temporal-schema"]["image"]
        == SERVICES["temporal-namespace"]["image"]
        == f"temporalio/admin-tools:{server}"
    )
    assert SERVICES["temporal-ui"]["image"] == f"temporalio/ui:{ui}"


def test_services_come_up_in_order():
    """Each one-shot job runs once what it needs is healthy, and what needs it
    waits for it to finish successfully: `docker compose up` on a fresh machine
    sets up schemas, then the namespace, then ticketflow's own setup."""
    for job, needs in ONE_SHOTS.items():
        assert SERVICES[job]["restart"] == "no", job
        condition = (
            "service_healthy"
            if needs in ("temporal-db", "temporal")
            else "service_completed_successfully"
        )
        assert _waits_for(SERVICES[job])[needs] == condition, job
    assert _waits_for(SERVICES["temporal"]) == {"temporal-schema": "service_completed_successfully"}
    assert _waits_for(SERVICES["temporal-ui"]) == {"temporal": "service_healthy"}
    for name in ("worker", "bridge"):
        assert _waits_for(SERVICES[name]) == {"setup": "service_completed_successfully"}, name
    assert _waits_for(SERVICES["setup"])["ticketflow-db"] == "service_healthy"


def test_one_shot_scripts_are_mounted_and_run():
    for job in ("temporal-schema", "temporal-namespace"):
        svc = SERVICES[job]
        [(dst, src)] = _mounts(svc).items()
        script = ROOT / src
        assert script.exists() and script.read_text().startswith("#!/bin/sh"), src
        assert svc["entrypoint"] == ["/bin/sh", dst], job
    server_mounts = _mounts(SERVICES["temporal"])
    dynamic = SERVICES["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert f"/etc/temporal/{dynamic}" in server_mounts
    assert yaml.safe_load((ROOT / server_mounts[f"/etc/temporal/{dynamic}"]).read_text())


def test_schema_job_keeps_existing_data_and_upgrades():
    """Re-running the schema job must not fail on an existing database, and
    must apply the versioned schema (what upgrades the data on a new server)."""
    text = (ROOT / "infra/temporal/setup-schema.sh").read_text()
    for db in ("temporal", "temporal_visibility"):
        assert db in text
    assert (
        "update-schema -d" in text
        and "/temporal/versioned" in text
        and "/visibility/versioned" in text
    )
    assert "set -eu" in text


async def test_namespace_job_creates_then_keeps_the_namespace(dev_env, tmp_path):
    """Run the namespace job's script, as the admin-tools image would, against
    a real Temporal server: it creates the namespace, and a second run keeps it."""
    import asyncio
    import os

    from infra.temporal import venv_binary

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "temporal").symlink_to(venv_binary("temporal"))
    namespace = f"compose-{os.getpid()}"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_RETENTION": "720h",
    }
    outputs = []
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            str(ROOT / "infra/temporal/create-namespace.sh"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode()
        outputs.append(out.decode())
    assert f"namespace {namespace} created" in outputs[0]
    assert f"namespace {namespace} exists" in outputs[1]
