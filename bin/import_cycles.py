#!/usr/bin/env python
"""Count the import cycles between the project's apps (`make cycles`).

Builds the module import graph with grimp (import-linter's engine), collapses it
to apps (`config`, `accounts`, `integrations`, ...), and prints every pair of
apps that import each other, then the number of cross-app cycles among modules
(strongly connected groups of modules that span more than one app). Function-
level imports count: a loop hidden inside a function is still a loop.
Exit status 1 when any cross-app cycle remains.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "accounts", "integrations", "connectors", "commerce", "webhooks", "syncjobs", "events",
        "observability", "notifications", "console", "sandbox")


# Settings and the root URLconf name every app (INSTALLED_APPS, the registry's provider apps, each app's urls):
# they are the roof over the floors, not part of config's floor.
ROOF = ("config.settings", "config.urls", "config.wsgi", "config.asgi")


# The integrations app spans two floors (.importlinter): its records below connectors, its services that drive
# connectors (connect, test, OAuth, routing, the API) above them. Counted apart, as the contract sees them.
INTEGRATION_SERVICES = tuple(f"integrations.{name}" for name in (
    "api", "serializers", "filters", "services", "routing", "oauth", "tasks", "urls", "management"))


def _app(module: str) -> str:
    if module.startswith(ROOF):
        return "config (settings, urls)"
    if any(module == name or module.startswith(name + ".") for name in INTEGRATION_SERVICES):
        return "integrations (services)"
    return module.split(".", 1)[0]


def _strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has a few thousand modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*APPS, include_external_packages=False, cache_dir=None)
    edges: dict[str, set[str]] = defaultdict(set)
    app_edges: set[tuple[str, str]] = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if ".migrations." in module or ".migrations." in imported:
                continue  # a migration's historical imports are frozen; they are not the design
            edges[module].add(imported)
            if _app(module) != _app(imported):
                app_edges.add((_app(module), _app(imported)))
    both_ways = sorted({tuple(sorted(pair)) for pair in app_edges if (pair[1], pair[0]) in app_edges})
    print(f"app pairs importing each other: {len(both_ways)}")
    for first, second in both_ways:
        print(f"  {first} <-> {second}")
    cycles = [g for g in _strongly_connected(sorted(graph.modules), edges) if len({_app(m) for m in g}) > 1]
    print(f"cross-app module cycles: {len(cycles)}")
    for group in cycles:
        apps = sorted({_app(m) for m in group})
        print(f"  {len(group)} modules across {', '.join(apps)}: {', '.join(sorted(group)[:6])}"
              f"{' …' if len(group) > 6 else ''}")
    return 1 if cycles or both_ways else 0


if __name__ == "__main__":
    raise SystemExit(main())
