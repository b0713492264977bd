"""No Docker engine runs here, so check docker-compose.yml's structure:
every service the manual names is there, with its ports, health check and
the volumes it needs; what it publishes and how it takes its settings and
secrets (safe by default); and that the Dockerfile builds the image from the
package's wheel. tests/test_image.py runs what that wheel holds."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
DEPLOYING = (ROOT / "docs" / "deploying.md").read_text()

# service -> what it publishes on the host, as docs/deploying.md says (None: nothing)
EXPECTED = {
    "temporal": None,
    "temporal-ui": "127.0.0.1:8233",
    "ticketflow-db": None,
    "temporal-db": None,
    "worker": None,
    "bridge": "${BRIDGE_BIND:-127.0.0.1}:8080",
    "setup": None,
    "prometheus": None,
    "grafana": "127.0.0.1:3000",
}
TICKETFLOW = ("setup", "worker", "bridge")  # built from the Dockerfile


def _published(svc: dict) -> set[str]:
    """host address:port of each published port (short or long syntax)."""
    out = set()
    for p in svc.get("ports", []):
        if isinstance(p, dict):
            out.add(f"{p.get('host_ip', '')}:{p.get('published', '')}")
        else:
            host, _, _container = str(p).rpartition(":")
            out.add(host)
    return out


def test_every_service_is_there_with_its_ports():
    assert set(EXPECTED) <= set(SERVICES)
    for name, published in EXPECTED.items():
        assert _published(SERVICES[name]) == ({published} if published else set()), name


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
    for name in TICKETFLOW:
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["environment"]["TEMPORAL_ADDRESS"] == (
            "${TEMPORAL_ADDRESS:-temporal:7233}"
        )
    assert (ROOT / "Dockerfile").exists()


def test_manual_names_the_services_and_what_they_publish():
    readme = (ROOT / "README.md").read_text()
    for name, published in EXPECTED.items():
        assert f"`{name}`" in readme, name
        assert f"`{name}`" in DEPLOYING, name
        if published:
            assert published.replace("${BRIDGE_BIND:-127.0.0.1}", "127.0.0.1") in DEPLOYING


# -------------------------------------------------------- safe by default

# Passwords of the stack's own services: `.env` must set them, non-empty.
STACK_PASSWORDS = {"TEMPORAL_DB_PASSWORD", "TICKETFLOW_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
# ticketflow's secrets: `.env` must name them; empty when their *_FILE is set.
FILE_SECRETS = {
    "WEBHOOK_SECRET",
    "CHATWOOT_API_TOKEN",
    "PAGERDUTY_ROUTING_KEYS",
    "PAGERDUTY_WEBHOOK_SECRET",
}
SECRETISH = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|_KEY")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _strings(node):
    """Every string value of a parsed YAML tree (keys aside)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_no_password_or_secret_is_written_in_the_file():
    """Every secret-looking setting takes its value from `.env` and has no default."""
    for name, svc in SERVICES.items():
        for key, value in _environment(svc).items():
            if SECRETISH.search(key) and not key.endswith("_FILE"):
                match = re.fullmatch(r"\$\{([A-Z_]+)(:?\?)[^}]*\}", value)
                assert match, f"{name}: {key}={value!r} is not a required ${{VAR}}"
                assert match[1] in STACK_PASSWORDS | FILE_SECRETS, (name, key)
    # the DSN's password too, and no leftover default anywhere
    url = _environment(SERVICES["worker"])["DATABASE_URL"]
    assert "postgresql://ticketflow:${TICKETFLOW_DB_PASSWORD:?" in url
    assert not re.search(r"(PASSWORD|PWD|SECRET|TOKEN|KEYS?)[A-Z_]*:?-", COMPOSE_TEXT)
    for literal in ("ticketflow:ticketflow@", "PASSWORD: temporal", "PWD: temporal"):
        assert literal not in COMPOSE_TEXT, literal


def test_each_secret_is_required() -> None:
    """`${X:?...}` (the stack's passwords) and `${X?...}` (ticketflow's secrets,
    which may be empty beside their *_FILE) stop `docker compose up` with a
    message; no use of them anywhere has a default."""
    uses: dict[str, set[str]] = {}
    for text in _strings(COMPOSE):
        for m in re.finditer(r"\$\{([A-Z_]+)(:?[-?+]?)", text):
            uses.setdefault(m[1], set()).add(m[2])
    for name in STACK_PASSWORDS:
        assert uses.get(name) == {":?"}, name
    for name in FILE_SECRETS:
        assert uses.get(name) == {"?"}, name


def test_file_secrets_have_a_file_setting():
    from infra.settings import SECRET_FILE_SETTINGS, Settings

    for name in FILE_SECRETS:
        assert name.lower() in SECRET_FILE_SETTINGS, name
        assert f"{name.lower()}_file" in Settings.model_fields, name


def test_only_the_bridge_is_reachable_beyond_this_host():
    """The bridge on 127.0.0.1 unless BRIDGE_BIND says otherwise; the Web UI and
    Grafana on 127.0.0.1 only; nothing else published, nothing on every interface."""
    for name, svc in SERVICES.items():
        for host in _published(svc):
            address = host.rpartition(":")[0]
            if name == "bridge":
                assert address == "${BRIDGE_BIND:-127.0.0.1}", host
            else:
                assert name in ("temporal-ui", "grafana") and address == "127.0.0.1", (name, host)


def test_grafana_needs_a_login():
    env = _environment(SERVICES["grafana"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_health_checks_use_what_their_images_have():
    """The ticketflow image (python:3.11-slim) has Python, not pgrep, ps or
    curl; the others use their own tools (pg_isready, busybox's nc and wget)."""
    for name, svc in SERVICES.items():
        if "healthcheck" not in svc:
            continue
        test = svc["healthcheck"]["test"]
        command = " ".join(test[1:])
        assert not re.search(r"\b(pgrep|pkill|ps|curl)\b", command), name
        if name in TICKETFLOW:
            assert test[:2] == ["CMD", "python"], name
    # the worker's answers on the metrics address it is given
    worker = SERVICES["worker"]
    port = _environment(worker)["WORKER_METRICS_ADDRESS"].rpartition(":")[2]
    assert f"http://127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])


# ------------------------------------------------------ .env and .env.example

EXAMPLE = (ROOT / ".env.example").read_text()


def _dotenv(text: str) -> dict[str, str]:
    """The variables a .env sets (comments aside), quotes removed."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line.strip())
        if m:
            value = m[2].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[m[1]] = value
    return out


def test_env_example_lists_every_variable_the_file_reads():
    listed = set(re.findall(r"^#? ?([A-Za-z_][A-Za-z0-9_]*)=", EXAMPLE, re.M))
    read = {m for text in _strings(COMPOSE) for m in VARIABLE.findall(text)}
    assert read - listed == set()


def test_env_example_holds_no_secret():
    example = _dotenv(EXAMPLE)
    for name in STACK_PASSWORDS | FILE_SECRETS:
        assert example[name] == "", name


class Missing(Exception):
    pass


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one value: ${VAR}, ${VAR:-default},
    ${VAR-default}, ${VAR:?message}, ${VAR?message}, nested; $$ is a `$`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 0, i
            while True:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                if text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            body = text[i + 2 : j]
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?(.*)", body, re.S)
            assert m, body
            name, op, rest = m[1], m[2], _interpolate(m[3], env)
            value = env.get(name)
            if op in (":?", "?") and (value is None or (op == ":?" and not value)):
                raise Missing(f"{name}: {rest}")
            if (op == ":-" and not value) or (op == "-" and value is None):
                value = rest
            out.append(value or "")
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _resolve(node, env: dict[str, str]):
    if isinstance(node, str):
        return _interpolate(node, env)
    if isinstance(node, dict):
        return {k: _resolve(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, env) for v in node]
    return node


FILLED = _dotenv(EXAMPLE) | {
    "TEMPORAL_DB_PASSWORD": "tdbpw",
    "TICKETFLOW_DB_PASSWORD": "tfdbpw",
    "GRAFANA_ADMIN_PASSWORD": "gfpw",
    "WEBHOOK_SECRET": "whsec",
}


def test_up_stops_until_env_sets_the_passwords():
    with pytest.raises(Missing, match="PASSWORD"):
        _resolve(COMPOSE, _dotenv(EXAMPLE))  # the example as it is
    for name in STACK_PASSWORDS | FILE_SECRETS:
        env = {k: v for k, v in FILLED.items() if k != name}
        with pytest.raises(Missing, match=name):
            _resolve(COMPOSE, env)


def test_env_wins_over_the_defaults():
    services = _resolve(COMPOSE, FILLED)["services"]
    env = _environment(services["worker"])
    assert env["DATABASE_URL"] == "postgresql://ticketflow:tfdbpw@ticketflow-db:5432/ticketflow"
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["TEMPORAL_UI_URL"] == "http://localhost:8233"
    assert _environment(services["ticketflow-db"])["POSTGRES_PASSWORD"] == "tfdbpw"
    assert _environment(services["temporal"])["POSTGRES_PWD"] == "tdbpw"
    assert services["bridge"]["ports"] == ["127.0.0.1:8080:8080"]

    mine = {
        "TEMPORAL_ADDRESS": "temporal.internal:7233",
        "TEMPORAL_UI_URL": "https://temporal.example.com",
        "DATABASE_URL": "postgresql://tf:pw@db.internal/tf",
        "BRIDGE_BIND": "10.0.0.5",
    }
    services = _resolve(COMPOSE, FILLED | mine)["services"]
    for name in TICKETFLOW:
        env = _environment(services[name])
        for key in ("TEMPORAL_ADDRESS", "TEMPORAL_UI_URL", "DATABASE_URL"):
            assert env[key] == mine[key], (name, key)
        assert env["WEBHOOK_SECRET"] == "whsec"
    assert services["bridge"]["ports"] == ["10.0.0.5:8080:8080"]


def test_secrets_can_come_from_files():
    """Empty in `.env` beside its *_FILE (which reaches the containers with
    the rest of `.env`): compose starts, and ticketflow reads the file."""
    env = FILLED | {"WEBHOOK_SECRET": "", "WEBHOOK_SECRET_FILE": "/run/secrets/webhook_secret"}
    env |= {"DATABASE_URL": "", "DATABASE_URL_FILE": "/run/secrets/database_url"}
    services = _resolve(COMPOSE, env)["services"]
    for name in TICKETFLOW:
        assert SERVICES[name]["env_file"] == [{"path": ".env", "required": False}]
        resolved = _environment(services[name])
        assert resolved["WEBHOOK_SECRET"] == "" and resolved["DATABASE_URL"] == ""


def test_ticketflow_reads_an_empty_secret_beside_its_file(tmp_path, monkeypatch):
    """What the containers get in that case: the file wins, no "both set" error."""
    from infra.settings import load_settings

    for name in FILE_SECRETS:
        path = tmp_path / name.lower()
        path.write_text('{"lola": "from-a-file"}\n')
        monkeypatch.setenv(name, "")
        monkeypatch.setenv(f"{name}_FILE", str(path))
    settings = load_settings(_env_file=None)
    assert settings.webhook_secret and settings.chatwoot_api_token
    assert settings.webhook_secret.get_secret_value() == '{"lola": "from-a-file"}'
    assert settings.pagerduty_routing_keys["lola"].get_secret_value() == "from-a-file"


# ------------------------------------------------------------- the image


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, args = line.partition(" ")
            out.append((word.upper(), args.strip()))
    return out


def _source_packages() -> set[str]:
    """The tree's top-level packages and data directories."""
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"policies", "migrations"}


def test_dockerfile_installs_the_wheel_and_copies_no_source_folder():
    steps = _instructions(ROOT / "Dockerfile")
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    build, runtime = steps[stages[0] : stages[-1]], steps[stages[-1] :]
    runs = " ".join(args for word, args in build if word == "RUN")
    assert "pip wheel --no-deps" in runs or "python -m build" in runs
    assert re.search(r"pip install [^&]*\.whl", runs)
    assert not re.search(r"pip install[^&]*(-e|--editable)\b", runs)
    for word, args in steps:
        if word in ("COPY", "ADD"):
            sources = [a for a in args.split()[:-1] if not a.startswith("--")]
            assert not set(s.strip("./") for s in sources) & _source_packages(), args
    copies = [args for word, args in runtime if word in ("COPY", "ADD")]
    assert copies and all(args.startswith("--from=") for args in copies), copies
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert ("CMD", '["ticketflow", "worker"]') in runtime


# ----------------------------------------------------------- metrics: Prometheus, Grafana

METRICS_SERVICES = {"prometheus": "9090", "grafana": "3000"}  # the port each listens on
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


def test_prometheus_and_grafana_are_there_with_health_and_volumes():
    for name in METRICS_SERVICES:  # what they publish: EXPECTED
        svc = SERVICES[name]
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
