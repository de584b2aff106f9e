"""``python -m tooling <command>``: ``schema`` prints the JSON Schema of a stack file. The plan and
the teardown gate keep their own entry points (``python -m tooling.plan``, ``python -m tooling.teardown``)."""

from __future__ import annotations

import argparse
import sys

from tooling import schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("schema", help="print the JSON Schema of Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    if args.command == "schema":
        sys.stdout.write(schema.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
