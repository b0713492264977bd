"""Packs are parsed once per file content (libyaml parser, YAML 1.2 booleans)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from engine.policy_loader import load_policy
from engine.yaml_loader import PackLoader, load_yaml

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"


def test_fast_loader_reads_every_pack_like_the_pure_python_one():
    for path in POLICIES_DIR.glob("*.yaml"):
        text = path.read_text()
        assert load_yaml(text) == yaml.load(text, Loader=PackLoader), path.name


def test_fast_loader_keeps_yaml_1_2_booleans():
    assert load_yaml("on: resolved\nx: yes\ny: true") == {"on": "resolved", "x": "yes", "y": True}


def test_shared_load_is_cached_until_the_file_changes(tmp_path: Path):
    shutil.copy(POLICIES_DIR / "vip-concierge.yaml", tmp_path / "vip-concierge.yaml")
    first = load_policy("vip-concierge", tmp_path, shared=True)
    assert load_policy("vip-concierge", tmp_path, shared=True) is first
    copy = load_policy("vip-concierge", tmp_path)
    assert copy is not first and copy == first  # callers that may edit get their own copy
    path = tmp_path / "vip-concierge.yaml"
    path.write_text(path.read_text().replace('version: "2026-11-22.1"', 'version: "bench-2"'))
    edited = load_policy("vip-concierge", tmp_path, shared=True)
    assert edited is not first and edited.version == "bench-2"
