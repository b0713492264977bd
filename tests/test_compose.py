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
