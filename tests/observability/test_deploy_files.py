"""deploy/: the alert rules and the Grafana dashboard load, and name only series /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from observability import collectors

ROOT = Path(__file__).resolve().parents[2]
SERIES = re.compile(r"\bswitchyard_[a-z_]+\b")


def exported() -> set[str]:
    source = Path(collectors.__file__).read_text()
    return {collectors.PREFIX + name for name in re.findall(r'_gauge\(\s*"([a-z_]+)"', source)}


def test_alert_rules_load_and_name_exported_series():
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 8
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule) and rule["labels"]["severity"]
        assert set(SERIES.findall(rule["expr"])) <= exported(), rule["alert"]


def test_the_dashboard_loads_and_names_exported_series():
    dashboard = json.loads((ROOT / "deploy/grafana/switchyard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 15
    named = {name for expr in exprs for name in SERIES.findall(expr)}
    assert named <= exported() and len(named) >= 15


def test_the_scrape_job_points_at_metrics():
    job = yaml.safe_load((ROOT / "deploy/prometheus/scrape.yml").read_text())["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
