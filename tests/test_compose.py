"""No Docker engine runs here, so check docker-compose.yml's structure:
every service the README names is there, with its ports, health check and
the volumes it needs."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]

# service -> published host port (None: none published), as the README's table says
EXPECTED = {"temporal": "7233", "temporal-ui": "8233", "ticketflow-db": "5433", "temporal-db": None,
            "worker": None, "bridge": "8080", "setup": None}


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


# --------------------------------------------------------------- metrics (issue 11)

METRICS_SERVICES = {"prometheus": "9090", "grafana": "3000"}
BUSINESS_METRICS = ("ticketflow_tickets_opened_total", "ticketflow_sla_breaches_total", "ticketflow_pages_total",
                    "ticketflow_handoffs_total", "ticketflow_escalations_total", "ticketflow_tickets_escalated_total",
                    "ticketflow_steps_missed_total", "ticketflow_breach_lateness_seconds",
                    "ticketflow_bridge_webhooks_total", "ticketflow_bridge_webhook_duration_seconds",
                    "ticketflow_bridge_unavailable_total")


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
        assert svc["volumes"][0].split(":")[0] in COMPOSE["volumes"], name  # data survives a restart
        for src in _mounts(svc).values():
            assert (ROOT / src).exists(), src
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:")


def test_prometheus_scrapes_the_worker_runtime_and_the_bridge():
    config_path = _mounts(SERVICES["prometheus"])["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load((ROOT / config_path).read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    worker = SERVICES["worker"]
    host, _, port = worker["environment"]["WORKER_METRICS_ADDRESS"].rpartition(":")
    assert host == "0.0.0.0" and f"worker:{port}" in targets and port in [str(p) for p in worker["expose"]]
    assert "bridge:8080" in targets
    assert worker["environment"]["DATABASE_URL"]  # the override keeps the shared settings


def test_grafana_provisions_the_datasource_and_a_dashboard_with_every_metric():
    mounts = _mounts(SERVICES["grafana"])
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "ticketflow.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboards = ROOT / mounts[provider["options"]["path"]]
    import json

    dashboard = json.loads((dashboards / "ticketflow.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for metric in BUSINESS_METRICS:
        assert any(metric in e for e in exprs), metric
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]} | \
           {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {datasource["uid"]}
    assert any("by (pack, clock)" in e for e in exprs) and any("by (target)" in e for e in exprs)
    assert any("by (outcome)" in e for e in exprs) and any("by (event, status)" in e for e in exprs)


def test_metrics_readme_section_names_the_services_and_ports():
    text = (ROOT / "docs" / "readme-issue-11-ui-metrics.md").read_text()
    for name, port in METRICS_SERVICES.items():
        assert f"`{name}`" in text and port in text
    for metric in BUSINESS_METRICS:
        assert metric in text, metric
