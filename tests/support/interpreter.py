"""Which Python runs the gateway in tests.

`make test` builds `.venv-installed` the way a platform team installs the gateway (a fresh
virtualenv, the hashed runtime lock, then `pip install .`, then `pip check`), points
BEDROCK_GATEWAY_TEST_PYTHON at its interpreter for the gateways tests start as processes, and
puts the installed package first on PYTHONPATH for the gateways tests run in their own process:
every end-to-end test drives the *installed* package, not this checkout. Run pytest directly and
the checkout is used instead.
"""

from __future__ import annotations

import os
import sys

INSTALLED_PYTHON_ENV = "BEDROCK_GATEWAY_TEST_PYTHON"


def gateway_python() -> str:
    """The interpreter that runs `python -m bedrock_gateway` (and its keys CLI) in tests."""
    return os.environ.get(INSTALLED_PYTHON_ENV) or sys.executable


def gateway_interpreter() -> list[str]:
    """The interpreter the suite was told to use, with -P: the working directory (this checkout)
    is not put on sys.path ahead of the installed package."""
    return [gateway_python(), "-P"]


def gateway_command(*args: str, module: str = "bedrock_gateway") -> list[str]:
    """`python -P -m bedrock_gateway ARGS` (or another of the package's modules)."""
    return [*gateway_interpreter(), "-m", module, *args]
