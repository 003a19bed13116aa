"""Entry point of `python -m bedrock_gateway.keys` (see cli.py)."""

import sys

from bedrock_gateway.keys.cli import main

if __name__ == "__main__":
    sys.exit(main())
