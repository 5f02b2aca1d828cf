"""A provider is its folder and one registry line: nothing outside `connectors/<p>/` names provider `<p>`.

For each registered provider key, every source file outside that folder is searched for the key as a word
(case-insensitive; `_`, `-` and `.` separate words, so `verify_shopify`, `SHOPIFY_CLIENT_ID` and
`"connectors.shopify"` all name it): in Python, its identifiers and string literals; in templates and build
files, their whole text. Prose is not code: Python comments and docstrings may cite a provider as an example.

Not searched: the provider's own folder, tests (and tests/fixtures), the simulator app `sandbox/`, README.md,
migrations (history), .env.example (the operator's list of every variable) and connectors/registry.py (the
one line per provider). `ALLOWED` is the short list of places that name a provider for a reason the provider's
folder cannot hold; `PENDING` lists code that still names one and is being moved by another part of issue 16.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from connectors import registry

ROOT = Path(__file__).resolve().parents[2]

EXEMPT = ("tests/", "sandbox/", "README.md", ".env.example", "connectors/registry.py")
SKIPPED_DIRS = {".git", ".venv", "venv", "var", "node_modules", "staticfiles", "__pycache__", "migrations", "htmlcov"}
TEXT_FILES = {"Makefile", "Procfile", "Procfile.dev"}
TEXT_SUFFIXES = {".py", ".html", ".txt", ".js", ".css", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".sh"}
TEXT_DIRS = ("bin/", ".ci/")  # scripts without a suffix

# (provider key, path or folder prefix): why that place names the provider.
ALLOWED: dict[tuple[str, str], str] = {
    # "sandbox" is also the name of the simulator app (sandbox/) the demo, the benchmarks and the e2e tests run
    # against, and providers call their test environments "sandbox" (eBay's, PayPal's, Amazon's hosts).
    ("sandbox", "connectors/"): "other providers' test environments are called sandbox (hosts, is_test_mode)",
    ("sandbox", "config/settings.py"): 'the simulator app is installed: INSTALLED_APPS "sandbox"',
    ("sandbox", "Makefile"): "make run starts the simulator (manage.py run_sandbox)",
    ("sandbox", "Procfile.dev"): "make run starts the simulator (manage.py run_sandbox)",
    ("sandbox", "pyproject.toml"): "the e2e marker says the tests talk to the simulator",
    ("sandbox", "bench/"): "the benchmarks measure the pipeline against the simulator and its connector",
    ("sandbox", "console/management/commands/setup_demo.py"): "the demo's integration is the simulator's shop",
    ("sandbox", "console/management/commands/demo_ready.py"): "make run's banner prints the simulator's URL",
    ("meta_ads", "console/management/commands/setup_demo.py"): "the demo's ad account is the simulator's Meta side",
    ("sandbox", "bin/import_cycles.py"): "the simulator app is one of the packages whose imports it counts",
    # The sandbox connector is Shopify's connector pointed at the simulator (it subclasses it, so the simulator
    # keeps testing the real connector and mapping).
    ("shopify", "connectors/sandbox/"): "the sandbox connector is Shopify's, pointed at the simulator",
    # Slack's request signing is a shared scheme (connectors/schemes.py SHARED): a generic receiver may choose it by
    # name for Slack-signed calls, and the Slack connector's slash command verifies with it.
    ("slack", "connectors/schemes.py"): "the shared Slack signing scheme (SHARED['slack'])",
    # TikTok Shop (the marketplace) and TikTok (the social platform, Login Kit and Content Posting) are two
    # providers of two TikTok developer portals; the shop's folder says "TikTok" because the product is called so.
    ("tiktok", "connectors/tiktok_shop/"): "TikTok Shop is its own provider; its name contains TikTok's",
    ("tiktok", "connectors/tiktok_ads/"): "TikTok Ads is its own provider; its name contains TikTok's",
    # Meta's Graph API and its login dialog live at graph.facebook.com and www.facebook.com: the other Meta
    # connectors name those hosts (and Meta's developer docs), not the Facebook Pages provider.
    ("facebook", "connectors/meta_ads/"): "Meta's Graph API host graph.facebook.com and dialog www.facebook.com",
    ("facebook", "connectors/instagram/"): "its docs_url is on developers.facebook.com",
    # The Stripe SDK is a test dependency: tests check our Stripe verifier against it.
    ("stripe", "requirements-dev.txt"): "the stripe SDK, which tests check the Stripe verifier against",
    # Issue 18 measures ingest with Stripe-signed events (the event id signed in the body) against a bare app.
    ("stripe", "bench/ingest.py"): "the ingest bench posts Stripe-signed events, as issue 18 measured",
    ("stripe", "bench/ingest_bare.py"): "the bench's bare reference verifies the same Stripe signature",
    ("anthropic", "requirements.txt"): "the official anthropic SDK the anthropic connector calls through (pinned)",
}

# Code still being moved out (none today); each entry goes when its move lands.
PENDING: dict[tuple[str, str], str] = {}


def _searched_files() -> list[Path]:
    files = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        parts = relative.parts
        if any(part in SKIPPED_DIRS for part in parts[:-1]) or not path.is_file():
            continue
        name = relative.as_posix()
        if name.startswith(EXEMPT):
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_FILES or (name.startswith(TEXT_DIRS) and not path.suffix):
            files.append(path)
    return files


def _docstring_starts(source: str) -> set[tuple[int, int]]:
    """Where the docstrings of modules, classes and functions start (tokens at those places are prose)."""
    import ast

    starts = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                starts.add((first.lineno, first.col_offset))
    return starts


def _code_tokens(path: Path) -> list[tuple[int, str]]:
    """(line, text) of what may name a provider: identifiers and string literals (Python), or each line."""
    source = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".py":
        return list(enumerate(source.splitlines(), start=1))
    prose = _docstring_starts(source)
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME or (token.type == tokenize.STRING and token.start not in prose):
            found.append((token.start[0], token.string))
    return found


def _word(key: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", re.IGNORECASE)


def _namings() -> list[tuple[str, str, int, str]]:
    """(key, file, line, text) of every place outside a provider's folder that names it."""
    keys = {key: _word(key) for key in registry.providers()}
    found = []
    for path in _searched_files():
        name = path.relative_to(ROOT).as_posix()
        tokens = _code_tokens(path)
        for key, pattern in keys.items():
            if name.startswith(f"connectors/{key}/"):
                continue
            for line, text in tokens:
                if pattern.search(text):
                    found.append((key, name, line, text.strip()[:100]))
    return found


def _listed(key: str, name: str, listing: dict[tuple[str, str], str]) -> bool:
    return any(key == listed_key and (name == place or name.startswith(place)) for listed_key, place in listing)


def test_the_search_finds_a_provider_named_in_code(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Shopify in prose is fine."""\n# so is a comment about shopify\n'
                      'from connectors.shopify import webhooks\nSHOPIFY_KEY = "X-Shopify-Topic"\n')
    tokens = _code_tokens(sample)
    assert [line for line, text in tokens if _word("shopify").search(text)] == [3, 4, 4]


def test_nothing_outside_a_providers_folder_names_it():
    unexpected = [f"{name}:{line}: {key}: {text}" for key, name, line, text in _namings()
                  if not _listed(key, name, ALLOWED) and not _listed(key, name, PENDING)]
    assert unexpected == [], "provider named outside its folder:\n" + "\n".join(unexpected)


@pytest.mark.parametrize("listing", [ALLOWED, PENDING], ids=["allowed", "pending"])
def test_every_listed_place_still_names_its_provider(listing):
    """An entry whose place no longer names the provider is stale: remove it."""
    namings = {(key, name) for key, name, _, _ in _namings()}
    stale = [(key, place) for key, place in listing
             if not any(k == key and (n == place or n.startswith(place)) for k, n in namings)]
    assert stale == []
