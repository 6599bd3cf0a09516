"""Exit codes, the bad-input error and the runners shared by every `phantomwatch` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command that writes to stdout, turning the ordinary ways it ends into exit codes.

    UsageError: "PROG: error: ..." on stderr, exit 2. Ctrl-C: "PROG: interrupted",
    exit 130. The reader went away (`| head`): not an error (`reader_gone`).
    """
    try:
        return body()
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return reader_gone()


def reader_gone() -> int:
    """Stdout's reader went away (`| head`): exit 0, stdout pointed at /dev/null.

    Without that, the interpreter's final flush of stdout raises again at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def run_standalone(
    prog: str, register: Callable[[Any], None], argv: Sequence[str] | None = None
) -> int:
    """Parse `argv` with one command group's parser (`python -m ...command ACTION ...`) and run it.

    `register` adds the group's actions to the subparsers, as it does for `phantomwatch`.
    """
    parser = argparse.ArgumentParser(prog=prog)
    register(parser.add_subparsers(dest="action", required=True, metavar="ACTION"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
