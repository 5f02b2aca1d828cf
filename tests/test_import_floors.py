"""Every module of the two apps the floors split by module (integrations, config) sits on a floor.

import-linter only checks the modules a layer names: a new `integrations/x.py` left out of `.importlinter`
would be free to import anything. The roof of config (settings, urls, wsgi, asgi) names every app by design.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOF = {"config.settings", "config.urls", "config.wsgi", "config.asgi"}


def _layered() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return set(re.findall(r"[a-z_]+(?:\.[a-z_]+)+", parser["importlinter:contract:floors"]["layers"]))


def test_every_module_of_a_split_app_is_on_a_floor():
    layered = _layered()
    modules = {f"{app}.{path.stem}" for app in ("integrations", "config") for path in (ROOT / app).iterdir()
               if (path.suffix == ".py" and path.stem != "__init__") or (path.is_dir() and (path / "__init__.py")
                                                                          .exists())}
    assert sorted(modules - layered - ROOF) == []
