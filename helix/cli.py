"""The `helix` command line. Subcommands are modules of ``helix.commands``, discovered by name.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``,
and ``EXAMPLE`` (its --help epilog), so a new command is one new file. Bad input raises
HelixInputError, printed as one line with exit 2; a run whose modelled system breaks a limit
(HelixRunError, e.g. a simulated KV overflow) exits 3.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import helix.commands
from helix.errors import HelixInputError, HelixRunError


def _commands() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules(helix.commands.__path__):
        if info.name.startswith("_"):
            continue
        found[info.name.replace("_", "-")] = importlib.import_module(f"helix.commands.{info.name}")
    return dict(sorted(found.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, mod in _commands().items():
        p = sub.add_parser(
            name,
            help=getattr(mod, "HELP", ""),
            description=getattr(mod, "HELP", ""),
            epilog=getattr(mod, "EXAMPLE", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except HelixRunError as exc:  # valid inputs, but the modelled system broke a limit
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
