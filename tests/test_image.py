"""What the Docker image holds: the wheel of the build context, and only that.

No Docker engine runs on these machines, so this stands in for `docker build`
followed by `docker compose up`. The Dockerfile's only source of code is the
wheel that pyproject.toml makes of the build context (`pip wheel --no-deps .`
in its build stage, then `pip install` of that wheel into /opt/ticketflow, the
one directory the runtime stage gets). So the test makes that wheel from the
same context (this tree less what .dockerignore leaves out), installs it into
a fresh virtual environment outside the tree, and runs `ticketflow setup`,
`ticketflow worker` and `ticketflow bridge` from there, with no PYTHONPATH and
a working directory outside the tree, until a ticket opens and pages. A
package, template, pack or migration the wheel lacks fails here as it would in
the container (ModuleNotFoundError, a missing template, no migrations).

Two shortcuts keep it inside CI's time, and neither can hide a missing file:
- The wheel's dependencies are not downloaded: the fresh environment reads
  them from the project's .venv (same pins, same pyproject.toml) through a
  .pth file naming a directory of links to that site-packages' entries, less
  ticketflow's own editable install (its .pth, finder and metadata), so the
  code itself can only come from the wheel; the test checks that it does.
- The wheel is built offline by the .venv's setuptools: with `pip wheel
  --no-build-isolation` where that setuptools can build wheels (70.1+, or the
  `wheel` package installed), else by its `build_py` (the step that picks the
  packages and package data of a wheel) packed into a wheel here.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from infra import processes
from infra.schedules import schedule_id
from tests import payloads
from tests.faults.stack import CW_TOKEN, PD_KEYS, POLICY, SECRET, fast_pack
from tests.helpers import signed, terminate_all

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable  # the project's .venv: builds the wheel, runs the stand-ins

# ---------------------------------------------------------------- the context


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore's patterns as (exclude?, regex on a context-relative path),
    in file order; the last rule that matches a path or one of its parent
    directories decides (Docker's semantics: `*` and `?` within one path
    segment, `**` across any number, a leading `!` re-includes)."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((exclude, re.compile(regex + r"\Z")))
    return rules


def excluded(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether .dockerignore leaves `rel` (a/b/c, relative to the context) out."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for exclude, regex in rules:
        if any(regex.match(p) for p in prefixes):
            verdict = exclude
    return verdict


def copy_build_context(dest: Path) -> list[str]:
    """Copy this tree as `docker build` would send it (less .dockerignore's
    exclusions) to `dest`; the relative paths copied."""
    rules = dockerignore_rules((ROOT / ".dockerignore").read_text())
    can_prune = all(exclude for exclude, _ in rules)  # no `!` can bring a child back
    copied = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        base = Path(dirpath).relative_to(ROOT).as_posix()
        rel_dir = "" if base == "." else base + "/"
        if can_prune:
            dirnames[:] = [d for d in dirnames if not excluded(rel_dir + d, rules)]
        for name in filenames:
            rel = rel_dir + name
            if not excluded(rel, rules):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, target)
                copied.append(rel)
    return copied


def test_dockerignore_keeps_state_and_secrets_out_and_the_package_in():
    rules = dockerignore_rules((ROOT / ".dockerignore").read_text())
    for rel in (
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        ".env.example",
        ".ticketflow/temporal.db",
        "secrets/webhook_secret",
        "tests/test_image.py",
        "docs/index.md",
        "workflows/__pycache__/ticket.cpython-311.pyc",
        "ticketflow.egg-info/PKG-INFO",
        "build/lib/worker.py",
        "site/index.html",
        "bench/results.json",
        "console/node_modules/x/index.js",
    ):
        assert excluded(rel, rules), rel
    for rel in (
        "pyproject.toml",
        "README.md",
        "worker.py",
        "workflows/ticket.py",
        "packtools/cli.py",
        "console/templates/base.html",
        "console/static/htmx.min.js",
        "policies/vip-concierge.yaml",
        "migrations/0001_ticket_events.sql",
        "infra/temporal/dynamicconfig.yaml",
    ):
        assert not excluded(rel, rules), rel


# ------------------------------------------------------------------ the wheel


def _run(argv: list[str | Path], **kw) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=300, **kw
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


def _backend_builds_wheels() -> bool:
    """setuptools 70.1+ (bdist_wheel built in), or the `wheel` package beside it."""
    setuptools = importlib.util.find_spec("setuptools")  # found, not imported
    return importlib.util.find_spec("wheel") is not None or bool(
        setuptools
        and setuptools.origin
        and (Path(setuptools.origin).parent / "command" / "bdist_wheel.py").exists()
    )


def build_wheel(context: Path, out: Path, work: Path) -> Path:
    """The wheel of `context`, as the Dockerfile's `pip wheel --no-deps .` makes it."""
    out.mkdir(parents=True)
    if _backend_builds_wheels():
        pip_wheel = "-m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir"
        _run([PY, *pip_wheel.split(), out, context])
    else:
        _wheel_from_build_py(context, out, work)
    [wheel] = out.glob("*.whl")
    return wheel


def _wheel_from_build_py(context: Path, out: Path, work: Path) -> None:
    """setuptools' egg_info (metadata, entry points) and build_py (every
    package and its package data, as pyproject.toml selects them), packed as
    the py3-none-any wheel bdist_wheel would make of a pure-Python project."""
    egg, lib = work / "egg-info", work / "lib"
    egg.mkdir(parents=True)
    setup = "from setuptools import setup; setup()"
    _run(
        [PY, "-c", setup, "-q", "egg_info", "--egg-base", egg, "build_py", "--build-lib", lib],
        cwd=context,
    )
    [info] = egg.glob("*.egg-info")
    headers, _, body = (info / "PKG-INFO").read_text().partition("\n\n")
    fields = dict(line.split(": ", 1) for line in headers.splitlines() if ": " in line)
    name, version = fields["Name"].replace("-", "_"), fields["Version"]
    dist_info = f"{name}-{version}.dist-info"
    metadata = headers + "".join(f"\nRequires-Dist: {r}" for r in _requires(info)) + "\n\n" + body
    members: dict[str, bytes] = {
        path.relative_to(lib).as_posix(): path.read_bytes()
        for path in sorted(lib.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    members[f"{dist_info}/METADATA"] = metadata.encode()
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests/test_image.py\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    for extra in ("entry_points.txt", "top_level.txt"):
        members[f"{dist_info}/{extra}"] = (info / extra).read_bytes()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for arcname, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([arcname, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    members[f"{dist_info}/RECORD"] = record.getvalue().encode()
    with zipfile.ZipFile(out / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        for arcname, data in members.items():
            whl.writestr(arcname, data, compress_type=zipfile.ZIP_DEFLATED)


def _requires(info: Path) -> list[str]:
    """requires.txt as Requires-Dist values (`[extra]` sections become markers)."""
    out, marker = [], ""
    for line in (info / "requires.txt").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            extra, _, condition = line[1:-1].partition(":")
            parts = [f"({condition})"] if condition else []
            parts += [f'extra == "{extra}"'] if extra else []
            marker = " and ".join(parts)
        elif line:
            out.append(f"{line}; {marker}" if marker else line)
    return out


# ------------------------------------------------------ a fresh environment

# ticketflow's own editable install in the .venv: never visible to the fresh one
_OWN = re.compile(
    r"(__editable__.*|.*\.pth|.*\.egg-link|ticketflow[-.].*(dist|egg)-info|__pycache__)"
)


def fresh_environment(venv: Path, deps: Path, wheel: Path) -> Path:
    """A virtual environment holding the wheel, its dependencies read from
    the .venv through `deps` (links to its site-packages' entries, less
    ticketflow's own); its site-packages."""
    _run([PY, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    deps.mkdir()
    for libdir in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(libdir).iterdir():
            if not _OWN.fullmatch(entry.name) and not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    (site / "ticketflow-test-deps.pth").write_text(f"{deps}\n")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], env=_clean_env(venv))
    return site


def _clean_env(venv: Path, **settings: str) -> dict[str, str]:
    """The fresh environment's commands first on PATH, no PYTHONPATH, no
    ticketflow setting but `settings`."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **settings,
    }


_INSPECT = """
import importlib.metadata, json, sys, sysconfig
import packtools, starter.cli, workflows
from console.state import HERE as console_dir
from infra.db import MIGRATIONS_DIR
from infra.settings import Settings
policies = Settings(_env_file=None).policies_dir
print(json.dumps({
    "site": sysconfig.get_paths()["purelib"],
    "modules": [workflows.__file__, packtools.__file__, starter.cli.__file__],
    "distribution": str(importlib.metadata.distribution("ticketflow").locate_file("")),
    "sys_path": sys.path,
    "loaded": sorted(m for m in sys.modules if "editable" in m),
    "dirs": [str(MIGRATIONS_DIR), str(policies), str(console_dir)],
    "migrations": sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql")),
    "packs": sorted(p.name for p in policies.glob("*.yaml")),
    "console": sorted(
        p.relative_to(console_dir).as_posix()
        for sub in ("templates", "static") for p in (console_dir / sub).iterdir()
    ),
}))
"""


def _source_files(directory: str, pattern: str) -> list[str]:
    return sorted(p.name for p in (ROOT / directory).glob(pattern))


def check_installed(venv: Path, site: Path, cwd: Path) -> None:
    """The code, packs, migrations and console files come from the fresh
    environment's site-packages, never from this tree."""
    found = json.loads(
        _run([venv / "bin" / "python", "-c", _INSPECT], cwd=cwd, env=_clean_env(venv)).stdout
    )
    assert Path(found["site"]) == site
    for path in (*found["modules"], found["distribution"], *found["dirs"]):
        assert Path(path).is_relative_to(site), path
    assert not [p for p in found["sys_path"] if p and Path(p).resolve().is_relative_to(ROOT)]
    assert found["loaded"] == []  # no editable finder
    assert found["migrations"] == _source_files("migrations", "*.sql")
    assert found["packs"] == _source_files("policies", "*.yaml")
    assert found["console"] == sorted(
        p.relative_to(ROOT / "console").as_posix()
        for sub in ("templates", "static")
        for p in (ROOT / "console" / sub).iterdir()
    )


# --------------------------------------------------------------- the stack


async def _fresh_database(dsn: str) -> tuple[str, str | None]:
    """An empty database beside the session's (so `setup` must find the
    migrations in the wheel), or the session's own without CREATEDB."""
    from urllib.parse import urlsplit, urlunsplit

    name = f"ticketflow_image_{os.getpid()}_{random.randrange(10**6)}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.InsufficientPrivilegeError:
        return dsn, None
    finally:
        await conn.close()
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment)), name


async def _drop_database(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _compose_healthcheck(service: str, port: int, container_port: int) -> list[str]:
    """docker-compose.yml's health check command of `service`, pointed at `port`."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kind, *argv = compose["services"][service]["healthcheck"]["test"]
    assert kind == "CMD", service
    return [a.replace(f":{container_port}/", f":{port}/") for a in argv]


def _in(directory: Path) -> list[str]:
    """An argv prefix that runs the command in `directory` (the same process:
    the shell execs it, so its pid and its die-with-parent setting stay)."""
    return ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(directory)]


async def _command(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{text}"
    return text


@pytest.mark.slow
async def test_the_wheel_alone_runs_setup_worker_and_bridge_until_a_ticket_pages(
    dev_env, postgres_dsn, tmp_path
) -> None:
    started = time.monotonic()
    context, work = tmp_path / "context", tmp_path / "work"
    copied = await asyncio.to_thread(copy_build_context, context)
    assert "pyproject.toml" in copied and not [p for p in copied if p.startswith("tests/")]
    wheel = await asyncio.to_thread(build_wheel, context, tmp_path / "dist", work)
    venv, run_dir = tmp_path / "venv", tmp_path / "run"  # the image's WORKDIR: nothing of ours
    run_dir.mkdir()
    site = await asyncio.to_thread(fresh_environment, venv, tmp_path / "deps", wheel)
    await asyncio.to_thread(check_installed, venv, site, run_dir)
    installed = time.monotonic() - started

    packs = tmp_path / "packs"
    packs.mkdir()
    fast_pack(packs)  # VIP pack, first acknowledgment due after 4 s
    account = random.randrange(100_000, 1_000_000)
    queue = f"image-{account}"
    dsn, database = await _fresh_database(postgres_dsn)
    children: dict[str, asyncio.subprocess.Process] = {}
    urls: dict[str, str] = {}
    wid = ""
    try:
        stand_in_env = {**os.environ, "PYTHONPATH": str(ROOT)}  # test code, not the image's
        keys = ",".join(PD_KEYS.values())
        for which in ("chatwoot", "pagerduty"):
            serve = f"-m tests.faults.serve {which} --port 0 --token {CW_TOKEN} --keys {keys}"
            children[which] = await processes.spawn(
                PY, *serve.split(), log_path=tmp_path / f"{which}.log", env=stand_in_env
            )
            port = await processes.wait_listening(children[which], which)
            urls[which] = f"http://127.0.0.1:{port}"

        settings = dict(
            TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
            TEMPORAL_TASK_QUEUE=queue,
            DATABASE_URL=dsn,
            CHATWOOT_BASE_URL=urls["chatwoot"],
            CHATWOOT_API_TOKEN=CW_TOKEN,
            CHATWOOT_ACCOUNT_ID=str(account),
            PAGERDUTY_EVENTS_URL=urls["pagerduty"],
            PAGERDUTY_ROUTING_KEY=PD_KEYS["alicia"],
            PAGERDUTY_ROUTING_KEYS=json.dumps(PD_KEYS),
            WEBHOOK_SECRET=SECRET,
            LOG_FORMAT="json",
        )
        ticketflow = str(venv / "bin" / "ticketflow")
        # setup with the packs the wheel carries (DEFAULT_POLICY vip-concierge is checked)
        out = await _command([ticketflow, "setup"], _clean_env(venv, **settings), run_dir, 120)
        if database:  # an empty database: every migration, found in the wheel
            versions = [name.removesuffix(".sql") for name in _source_files("migrations", "*.sql")]
            assert f"migrations applied: {versions}" in out, out
        assert f"reconciliation schedule: {schedule_id(account)}" in out, out

        running = _clean_env(
            venv,
            **settings,
            POLICIES_DIR=str(packs),
            DEFAULT_POLICY=POLICY,
            CONSOLE_OPERATORS=json.dumps({"image-test-operator-token": "lola"}),
        )
        children["worker"] = await processes.spawn(
            *_in(run_dir),
            ticketflow,
            "worker",
            log_path=tmp_path / "worker.log",
            env={**running, "WORKER_METRICS_ADDRESS": "127.0.0.1:0"},
        )
        children["bridge"] = await processes.spawn(
            *_in(run_dir),
            ticketflow,
            *"bridge --host 127.0.0.1 --port 0".split(),
            log_path=tmp_path / "bridge.log",
            env=running,
        )
        metrics_port = await processes.wait_listening(children["worker"], "worker")
        bridge_port = await processes.wait_listening(children["bridge"], "bridge")
        bridge = f"http://127.0.0.1:{bridge_port}"

        # docker-compose.yml's health checks, run with the fresh environment's python
        env = _clean_env(venv)
        deadline = time.monotonic() + 60
        for service, port, inside in (
            ("worker", metrics_port, 9464),
            ("bridge", bridge_port, 8080),
        ):
            check = _compose_healthcheck(service, port, inside)
            while True:
                proc = await asyncio.create_subprocess_exec(
                    *check, env=env, cwd=run_dir, stderr=asyncio.subprocess.DEVNULL
                )
                if await proc.wait() == 0:
                    break
                assert time.monotonic() < deadline, f"{service} health check never passed"
                await asyncio.sleep(0.5)

        async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
            login = await http.get("/console/login")  # a template from the wheel
            assert login.status_code == 200 and "<form" in login.text
            htmx = await http.get("/console/static/htmx.min.js")  # static files from the wheel
            assert (
                htmx.status_code == 200
                and htmx.content == (ROOT / "console" / "static" / "htmx.min.js").read_bytes()
            )

            now = int(time.time())
            body = json.dumps(
                payloads.conversation(
                    conv_id=7, account_id=account, created_at=now - 60, timestamp=now
                )
            ).encode()
            headers = {"content-type": "application/json", **signed(SECRET, body)}
            resp = await http.post("/webhooks/chatwoot", content=body, headers=headers)
            assert resp.status_code == 202, resp.text
            wid = resp.json()["workflow_id"]
            assert wid == f"ticket-{account}-7"

            # its first acknowledgment is past due: the ladder pages the backup
            deadline = time.monotonic() + 90
            while True:
                alerts = (await http.get(f"{urls['pagerduty']}/_sandbox/alerts")).json()
                paged = [key for key in alerts if key.startswith(f"{wid}:")]
                if paged:
                    break
                for name, proc in children.items():
                    assert proc.returncode is None, f"{name} exited {proc.returncode}"
                assert time.monotonic() < deadline, "no page within 90 s"
                await asyncio.sleep(0.5)
        print(
            f"wheel built and installed in {installed:.1f}s, paged after "
            f"{time.monotonic() - started:.1f}s"
        )
    except BaseException:
        for log in sorted(tmp_path.glob("*.log")):  # shown with the failure
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        for name in ("bridge", "worker"):
            if name in children:
                await processes.terminate(children[name], name)
        for name in ("chatwoot", "pagerduty"):
            if name in children and children[name].returncode is None:
                children[name].kill()
                await children[name].wait()
        if wid:
            await terminate_all(dev_env.client, [wid])
        try:
            await dev_env.client.get_schedule_handle(schedule_id(account)).delete()
        except Exception:
            pass  # setup failed before it created the schedule
        if database:
            await _drop_database(postgres_dsn, database)
