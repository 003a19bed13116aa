"""`make lock`: compile the two locks with uv's resolver, every file hashed.

- requirements/lock.txt: the runtime closure of setup.cfg's install_requires (what the image and a
  plain `pip install -r requirements/lock.txt` get).
- requirements/dev-lock.txt: the same runtime pins plus the test and development tools listed in
  requirements/dev.in (what `make venv` installs).

Both are universal (valid on x86_64 and arm64 Linux, with environment markers) for Python 3.11.
`UPGRADE=1 make lock` moves every pin to the newest allowed version; otherwise existing pins stay.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
PYTHON_VERSION = "3.11"


def compile_lock(inputs: list[str], output: str) -> None:
    command = [
        sys.executable, "-m", "uv", "pip", "compile", *inputs,
        "--universal", "--python-version", PYTHON_VERSION, "--generate-hashes",
        "--custom-compile-command", "make lock", "--output-file", output, "--quiet",
    ]
    if os.environ.get("UPGRADE") == "1":
        command.append("--upgrade")
    subprocess.run(command, cwd=REQ, check=True)


def main() -> None:
    compile_lock(["../setup.cfg"], "lock.txt")
    compile_lock(["../setup.cfg", "dev.in"], "dev-lock.txt")


if __name__ == "__main__":
    main()
