"""The aiohttp floor in setup.cfg is the version the gateway is tested with (the lock): the
protocol layer (server/protocol.py) and the SSRF guard's behaviour were verified on it."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_aiohttp_floor_is_the_locked_version():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requires = config["options"]["install_requires"]
    floor = re.search(r"^\s*aiohttp>=([\d.]+)", requires, flags=re.MULTILINE)
    locked = re.search(r"^aiohttp==([\d.]+)", (ROOT / "requirements/lock.txt").read_text(),
                       flags=re.MULTILINE)
    assert floor and locked
    assert floor.group(1) == locked.group(1)
