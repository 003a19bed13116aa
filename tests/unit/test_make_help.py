"""`make help` lists every target of the Makefile, each with a description."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    rules = set(re.findall(r"^([a-zA-Z0-9_-]+):(?!=)", text, flags=re.MULTILINE))
    phony = set(" ".join(re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", text, flags=re.MULTILINE))
                .replace("\\", " ").split())
    assert phony == rules, f"targets not in .PHONY or .PHONY without rule: {phony ^ rules}"
    return rules


def test_make_help_lists_every_target():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    result = subprocess.run([make, "--no-print-directory", "help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, check=True)
    listed = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^make (\S+) +(\S.*)$", line)
        assert match, f"unexpected line in make help: {line!r}"
        listed[match.group(1)] = match.group(2)
    assert set(listed) == makefile_targets()
    assert all(len(description) > 10 for description in listed.values())
