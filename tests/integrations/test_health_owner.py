"""integrations/health.py owns an Integration's health: the only writer of status, last_error and
consecutive_failures (outside user edits) and the only sender of integration.* events.

The first half reads the source tree (AST) and fails on any other module that writes those fields on an
Integration or publishes an integration.* event; the second half checks what health.py's functions do.

What the scan sees: an assignment to `<x>.status` / `.last_error` / `.consecutive_failures` (also in a
tuple) where `<x>` is an integration — a name or attribute called `integration`/`…_integration`, a
parameter annotated `Integration`, or a name bound to `Integration.objects…`, `….integration` or
`Integration(...)`; `.update(...)` on an `Integration.objects` chain (or a name bound to one) with one of
those keywords; `Integration(...)` / `Integration.objects.create|get_or_create|update_or_create(...)` with
them as keywords or literal `defaults` keys; `<integration>.save(update_fields=[…])` naming one of them
literally; and any `publish`/`publish_many` of an `integration.*` event. What it
cannot see: writes through computed names (`setattr(integration, name, value)`, a `defaults` dict built
elsewhere) — the user-edit paths below are of that kind, and health.py's own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from integrations import health
from integrations.models import Integration, IntegrationStatus
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import subscribe_all
from webhooks.models import WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]
# The product's code (bench/ seeds rows for measurements and is not part of the product; tests/ neither).
SCANNED = ("accounts", "commerce", "config", "connectors", "console", "integrations", "sandbox", "syncjobs",
           "webhooks")
OWNER = "integrations/health.py"
FIELDS = frozenset({"status", "last_error", "consecutive_failures"})
PUBLISHERS = frozenset({"publish", "publish_many", "_send"})  # _send: health.py's own wrapper of publish
QUERYSET_WRITES = frozenset({"create", "get_or_create", "update_or_create"})

# (module, function): why it may write these fields itself. Each is a user's edit of the integration — its
# configuration, which the user sets on purpose — not a record of how the integration is doing.
ALLOWED = {
    # The API's POST, the console's add form and an OAuth connect's new integration create one with the status
    # the user chose (inactive by default).
    ("integrations/services.py", "integration_create"): "creation by a user",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function or '<module>'}: {self.what}"


def _is_integration_class(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "Integration" or (
        isinstance(node, ast.Attribute) and node.attr == "Integration")


def _mentions_integration_type(annotation: ast.AST | None) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return "Integration" in annotation.value.replace("IntegrationLog", "").replace("IntegrationStatus", "")
    return any(_is_integration_class(n) for n in ast.walk(annotation))


def _objects_chain(node: ast.AST) -> bool:
    """Whether `node` is (a call chain on) `Integration.objects`."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if node.attr == "objects" and _is_integration_class(node.value):
                return True
            node = node.value
        else:
            return False


def _named_integration(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name == "integration" or name.endswith("_integration")


class _Scan(ast.NodeVisitor):
    def __init__(self, path: str):
        self.path = path
        self.findings: list[Finding] = []
        self.scopes: list[tuple[str, set[str], set[str]]] = [("", set(), set())]  # (function, instances, querysets)

    # ---------------------------------------------------------------- bookkeeping
    @property
    def function(self) -> str:
        return self.scopes[-1][0]

    def _found(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.path, node.lineno, self.function, what))

    def _instance(self, node: ast.AST) -> bool:
        return _named_integration(node) or isinstance(node, ast.Name) and node.id in self.scopes[-1][1]

    def _queryset(self, node: ast.AST) -> bool:
        root = node
        while isinstance(root, (ast.Call, ast.Attribute)):
            root = root.func if isinstance(root, ast.Call) else root.value
        return _objects_chain(node) or isinstance(root, ast.Name) and root.id in self.scopes[-1][2]

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
        instances = {a.arg for a in arguments if _mentions_integration_type(a.annotation)}
        self.scopes.append((node.name, instances, set()))
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _bind(self, target: ast.AST, value: ast.AST | None) -> None:
        if not isinstance(target, ast.Name) or value is None:
            return
        _, instances, querysets = self.scopes[-1]
        if _objects_chain(value):
            # `Integration.objects.get(...)` and friends are rows; other chains are querysets.
            tail = value.func.attr if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) else ""
            (instances if tail in ("get", "first", "last", "create") else querysets).add(target.id)
        elif isinstance(value, ast.Call) and _is_integration_class(value.func) or (
                isinstance(value, ast.Attribute) and value.attr == "integration"):
            instances.add(target.id)

    # ---------------------------------------------------------------- writes
    def _check_target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element)
        elif isinstance(target, ast.Attribute) and target.attr in FIELDS and self._instance(target.value):
            self._found(target, f"assigns {ast.unparse(target)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target)
            self._bind(target, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target)
        if _mentions_integration_type(node.annotation) and isinstance(node.target, ast.Name):
            self.scopes[-1][1].add(node.target.id)
        self._bind(node.target, node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        keywords = {k.arg for k in node.keywords if k.arg}
        method = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if method == "update" and isinstance(func, ast.Attribute) and self._queryset(func.value):
            for field in sorted(keywords & FIELDS):
                self._found(node, f"updates {field} on Integration rows")
        if _is_integration_class(func) or (
                method in QUERYSET_WRITES and isinstance(func, ast.Attribute) and self._queryset(func.value)):
            written = keywords & FIELDS
            for keyword in node.keywords:
                if keyword.arg == "defaults" and isinstance(keyword.value, ast.Dict):
                    written |= {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)} & FIELDS
            for field in sorted(written):
                self._found(node, f"creates an Integration with {field}")
        if method == "save" and isinstance(func, ast.Attribute) and self._instance(func.value):
            for keyword in node.keywords:
                if keyword.arg == "update_fields":
                    named = {n.value for n in ast.walk(keyword.value) if isinstance(n, ast.Constant)}
                    for field in sorted(named & FIELDS):
                        self._found(node, f"saves {field} of an integration")
        # ---------------------------------------------------------------- events
        event = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "event_type"), None)
        is_event = isinstance(event, ast.Constant) and isinstance(event.value, str) and event.value.startswith(
            "integration.")
        if is_event and method in PUBLISHERS:
            self._found(node, f"publishes {event.value}")
        self.generic_visit(node)


def scan(source: str, path: str) -> list[Finding]:
    visitor = _Scan(path)
    visitor.visit(ast.parse(source))
    return visitor.findings


def tree_findings() -> list[Finding]:
    found = []
    for app in SCANNED:
        for file in sorted((ROOT / app).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            if "/migrations/" not in path:
                found.extend(scan(file.read_text(), path))
    return found


# ---------------------------------------------------------------------- the tree
def test_only_health_writes_an_integrations_health_or_sends_its_events():
    offenders = [str(f) for f in tree_findings()
                 if f.path != OWNER and (f.path, f.function) not in ALLOWED]
    assert offenders == [], "Write these through integrations/health.py:\n" + "\n".join(offenders)


def test_the_scan_sees_health_py_own_writes_and_every_allowed_path_is_still_used():
    """The scan is not blind: it finds the owner's writes and events, and each allow-listed function still writes
    (an entry that no longer does must go)."""
    findings = tree_findings()
    owner = {f.function for f in findings if f.path == OWNER}
    assert {"integration_record_failure", "integration_credentials_refused", "integration_tested",
            "integration_disconnected", "integration_synced"} <= owner
    assert set(ALLOWED) <= {(f.path, f.function) for f in findings}


@pytest.mark.parametrize(("source", "what"), [
    ("def f(integration):\n    integration.status = 'error'", "assigns integration.status"),
    ("def f(job):\n    job.integration.last_error = 'x'", "assigns job.integration.last_error"),
    ("def f(x: Integration):\n    x.consecutive_failures += 1", "assigns x.consecutive_failures"),
    ("def f(pk):\n    row = Integration.objects.get(pk=pk)\n    row.status, row.last_error = 'a', ''",
     "assigns row.status"),
    ("def f(pk):\n    Integration.objects.filter(pk=pk).update(status='error')", "updates status on Integration rows"),
    ("def f(pk):\n    rows = Integration.objects.filter(pk=pk)\n    rows.update(last_error='')",
     "updates last_error on Integration rows"),
    ("def f(integration):\n    integration.save(update_fields=['last_error', 'updated_at'])",
     "saves last_error of an integration"),
    ("def f(o):\n    Integration.objects.update_or_create(code='a', defaults={'status': 'active'})",
     "creates an Integration with status"),
    ("def f(i, o):\n    publish('integration.error', {}, o, i)", "publishes integration.error"),
])
def test_the_scan_catches(source, what):
    assert what in [f.what for f in scan(source, "x.py")]


@pytest.mark.parametrize("source", [
    "def f(job):\n    job.status = 'failed'",  # another model's status
    "def f(order):\n    order.save(update_fields=['status'])",
    "def f(qs):\n    InventoryPush.objects.filter(pk=1).update(last_error='x')",
    "def f(o):\n    publish('order.updated', {}, o)",
])
def test_the_scan_leaves_other_models_alone(source):
    assert scan(source, "x.py") == []


# ---------------------------------------------------------------------- health.py's behaviour
@pytest.fixture
def subscribed(org):
    return subscribe_all(org)


def events(org, event_type: str) -> list[dict]:
    return [d.payload["data"] for d in WebhookDelivery.objects.filter(organization=org, event=event_type)
            .order_by("pk")]


def summary(integration: Integration) -> dict:
    return {"id": integration.pk, "code": integration.code, "provider": integration.provider,
            "name": integration.name}


@override_settings(SYNC_ERROR_AFTER_FAILURES=2)
def test_failures_count_up_to_error_once_and_a_sync_brings_it_back(org, subscribed):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    health.integration_record_failure(integration=integration, message="HTTP 503")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.consecutive_failures, row.last_error) == ("active", 1, "HTTP 503")
    assert events(org, "integration.error") == []

    health.integration_record_failure(integration=integration, message="HTTP 503 again")
    health.integration_record_failure(integration=integration, message="and again")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.consecutive_failures, row.last_error) == ("error", 3, "and again")
    assert events(org, "integration.error") == [
        {"integration": summary(integration), "error": "HTTP 503 again", "consecutive_failures": 2}]

    health.integration_synced(integration=integration, sync_job={"id": 7})
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.consecutive_failures, row.last_error) == ("active", 0, "")
    assert events(org, "integration.synced") == [{"integration": summary(integration), "sync_job": {"id": 7}}]


def test_a_failure_of_an_integration_switched_off_counts_but_leaves_the_status(org, subscribed, settings):
    settings.SYNC_ERROR_AFTER_FAILURES = 1
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.INACTIVE)
    health.integration_record_failure(integration=integration, message="x" * 3000)
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.consecutive_failures, len(row.last_error)) == ("inactive", 1, 2000)
    assert events(org, "integration.error") == []


def test_a_connection_test_records_its_detail_and_a_pass_ends_an_error(org):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ERROR, consecutive_failures=4)
    health.integration_tested(integration=integration, ok=False, detail="HTTP 401")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error, row.consecutive_failures) == ("error", "HTTP 401", 4)
    health.integration_tested(integration=integration, ok=True, detail="fine")
    health.integration_failures_reset(integration=integration)
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error, row.consecutive_failures) == ("active", "", 0)


def test_refused_credentials_move_only_an_active_integration_and_only_once(org, subscribed):
    active = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    testing = IntegrationFactory(organization=org, status=IntegrationStatus.TESTING)
    assert health.integration_credentials_refused(integration=active, message="keys refused") is True
    assert health.integration_credentials_refused(integration=active, message="again") is False
    assert health.integration_credentials_refused(integration=testing, message="keys refused") is False
    assert Integration.objects.get(pk=active.pk).status == "error"
    assert Integration.objects.get(pk=testing.pk).status == "testing"
    assert events(org, "integration.error") == [{"integration": summary(active), "error": "keys refused"}]


def test_a_refused_refresh_waits_for_a_reconnect_and_says_so_once(org, subscribed):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    for _ in range(2):
        health.integration_refresh_failed(integration=integration, message="invalid_grant", code="REFRESH_FAILED",
                                          needs_reconnect=True)
    health.integration_refresh_failed(integration=integration, message="token endpoint down", code="REFRESH_FAILED",
                                      needs_reconnect=False)
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("pending_auth", "token endpoint down")
    assert events(org, "integration.error") == [{"integration": summary(integration), "code": "REFRESH_FAILED",
                                                 "error": "invalid_grant", "status": "pending_auth",
                                                 "transient": False}]


def test_refresh_retries_giving_up_is_an_error_that_a_later_refresh_clears(org, subscribed):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    health.integration_refresh_gave_up(integration=integration, message="503", code="REFRESH_FAILED", transient=True)
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("error", "REFRESH_FAILED: 503")
    assert events(org, "integration.error") == [{"integration": summary(integration), "code": "REFRESH_FAILED",
                                                 "error": "503", "status": "error", "transient": True}]
    health.integration_refresh_recovered(integration=row)
    assert (Integration.objects.get(pk=integration.pk).status, row.last_error) == ("active", "")

    other = IntegrationFactory(organization=org, status=IntegrationStatus.ERROR, last_error="HTTP 500 on a sync")
    health.integration_refresh_recovered(integration=other)  # in error for another reason: stays
    assert Integration.objects.get(pk=other.pk).status == "error"


def test_connect_and_disconnect(org, subscribed):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.PENDING_AUTH, last_error="old")
    health.integration_connected(integration=integration, account_name="Shop RO")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("active", "")
    health.integration_disconnected(integration=row, reason="user", revoked=False, message="revoke failed")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("pending_auth", "revoke failed")
    assert events(org, "integration.connected") == [{"integration": summary(integration), "account_name": "Shop RO"}]
    assert events(org, "integration.disconnected") == [{"integration": summary(integration), "reason": "user",
                                                        "revoked": False}]


def test_a_best_effort_problem_is_noted_and_cleared_without_touching_the_status(org):
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    health.integration_problem_noted(integration=integration, message="Subscribing failed: 500")
    health.integration_problem_cleared(integration=integration, prefix="Something else")
    assert Integration.objects.get(pk=integration.pk).last_error == "Subscribing failed: 500"
    health.integration_problem_cleared(integration=integration, prefix="Subscribing failed")
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("active", "")


def test_events_are_written_in_the_callers_transaction(org, subscribed):
    """The signal's receiver (webhooks) writes the deliveries in the caller's transaction: they roll back with it."""
    integration = IntegrationFactory(organization=org, status=IntegrationStatus.ACTIVE)
    with pytest.raises(RuntimeError), transaction.atomic():
        health.integration_credentials_refused(integration=integration, message="keys refused")
        raise RuntimeError
    assert events(org, "integration.error") == []
    assert Integration.objects.get(pk=integration.pk).status == "active"
