"""`.env.example` must list every variable the settings read, so operators can see every knob."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_variable_is_in_env_example():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env\.(?:str|bool|int|float|list|db)\(\s*"([A-Z0-9_]+)"', settings_source))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert read, "found no env reads in settings: the pattern is wrong"
    assert read - listed == set(), f"missing from .env.example: {sorted(read - listed)}"
    assert listed - read == set(), f".env.example lists variables nothing reads: {sorted(listed - read)}"
