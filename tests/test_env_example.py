"""`.env.example` must list every variable the app reads, so operators can see every knob.

Two kinds: what config/settings.py reads, and each registered provider's settings (its connector's
`provider_settings`, read by key as `<KEY>_<NAME>`).
"""

import re
from pathlib import Path

from connectors import registry
from connectors.base import provider_setting_variable

ROOT = Path(__file__).resolve().parent.parent


def _provider_variables() -> set[str]:
    return {provider_setting_variable(key, name)
            for key, cls in registry.providers().items() for name in cls.provider_settings}


def test_every_setting_variable_is_in_env_example():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env\.(?:str|bool|int|float|list|db)\(\s*"([A-Z0-9_]+)"', settings_source))
    read |= _provider_variables()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert read, "found no env reads in settings: the pattern is wrong"
    assert read - listed == set(), f"missing from .env.example: {sorted(read - listed)}"
    assert listed - read == set(), f".env.example lists variables nothing reads: {sorted(listed - read)}"


def test_provider_defaults_match_env_example():
    """A provider setting's default in .env.example is the connector's (empty where it has none)."""
    example = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", (ROOT / ".env.example").read_text(), flags=re.M))
    for key, cls in registry.providers().items():
        for name, default in cls.provider_settings.items():
            assert example[provider_setting_variable(key, name)] == default, (key, name)
