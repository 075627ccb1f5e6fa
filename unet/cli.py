"""The command line: `python -m unet {demo,train,sweep,report,evaluate,data} ...`."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m unet", description=__doc__)
    parser.add_subparsers(dest="command", required=True)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
