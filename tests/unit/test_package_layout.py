"""The package layout the docs describe: unique module basenames (a name in a traceback says which
module it is), and the README's layout section and docs/architecture.md naming every package."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]  # this checkout, whichever copy is imported
PACKAGE = ROOT / "bedrock_gateway"
SHARED_NAMES = {"__init__.py", "__main__.py"}


def test_module_basenames_are_unique():
    where: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        if path.name not in SHARED_NAMES:
            where[path.name].append(str(path.relative_to(ROOT)))
    repeated = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not repeated, repeated


def _packages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def test_readme_layout_names_every_package_and_no_other():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^  ([a-z_]+)/", section, flags=re.M))
    assert named == _packages(), (named, _packages())
    modules = {p.name for p in PACKAGE.glob("*.py") if p.name not in SHARED_NAMES}
    for module in re.findall(r"\b([a-z_]+\.py)\b", section):
        assert module in modules, f"README layout names {module}, which is not in the package"


def test_architecture_doc_names_every_package_and_existing_modules():
    doc = (ROOT / "docs/architecture.md").read_text()
    for package in _packages():
        assert f"`{package}/`" in doc, package
    for ref in re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", doc):
        assert (PACKAGE / ref).exists(), f"docs/architecture.md names {ref}, which does not exist"
