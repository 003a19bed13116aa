"""Which Python runs the gateway in tests.

`make test` builds `.venv-installed` the way a platform team installs the gateway (a fresh
virtualenv, the hashed runtime lock, then `pip install .`, then `pip check`) and points
BEDROCK_GATEWAY_TEST_PYTHON at it, so every end-to-end test drives the *installed* package,
not this checkout. Run pytest directly and the checkout's own interpreter is used instead.
"""

from __future__ import annotations

import os
import sys

INSTALLED_PYTHON_ENV = "BEDROCK_GATEWAY_TEST_PYTHON"


def gateway_python() -> str:
    """The interpreter that runs `python -m bedrock_gateway` (and its keys CLI) in tests."""
    return os.environ.get(INSTALLED_PYTHON_ENV) or sys.executable


def gateway_command(*args: str) -> list[str]:
    """`python -m bedrock_gateway ARGS` with the interpreter the suite was told to use."""
    return [gateway_python(), "-m", "bedrock_gateway", *args]
