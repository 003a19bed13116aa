"""`python -m bench --out bench-results [--quick] [--profile]` (see bench/__init__.py)."""

from __future__ import annotations

import argparse
import sys

from bench.runner import main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Benchmark the gateway against its emulator.")
    parser.add_argument("--out", default="bench-results", help="output directory")
    parser.add_argument("--quick", action="store_true", help="small counts (~90 s): smoke test")
    parser.add_argument("--profile", action="store_true",
                        help="sample the gateway with py-spy during a concurrency-50 run")
    parser.add_argument("--only", choices=["keys", "micro"],
                        help="run one phase only (keys: the cost of virtual-key enforcement; "
                             "micro: per-call costs of the hot paths, in-process)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    sys.exit(main(args.out, args.quick, args.profile, args.only))
