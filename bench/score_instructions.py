"""Instructions per scored name under callgrind: a deterministic figure for A/B on a noisy machine.

Timings on this shared machine vary by ±20 % from run to run, which hides changes of
a few percent. Valgrind's instruction count does not vary: this runs the same setup
twice under callgrind, once without and once with scoring N names of the NRD list
against the first 1,000 Tranco domains, and prints the difference per name.

    .venv/bin/python bench/score_instructions.py [--names 8000] [--cache-size 0]

`--cache-size 0` measures the engine as the feed's scoring processes run it (no
per-name caches); the default is the engine's own cache size.

Needs `valgrind` (Debian package) and ../shared/data; takes about two minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import nrd_names, require_data, tranco


def _child(score: bool, count: int, cache_size: int | None) -> None:
    from service.detection import BrandSpec, DetectionIndex, score_names

    names = list(nrd_names())[:count]
    index = DetectionIndex.build([BrandSpec(name=d, domains=(d,)) for d in tranco(1000)])
    if cache_size is not None:
        index.cache_size = cache_size
    if score:
        score_names(index, names)


def _instructions(score: bool, count: int, cache_size: int | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'cg.out'}",
                sys.executable,
                __file__,
                "--child",
                "score" if score else "setup",
                "--names",
                str(count),
                *([] if cache_size is None else ["--cache-size", str(cache_size)]),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=8000, help="NRD names to score")
    parser.add_argument(
        "--cache-size", type=int, help="the engine's per-name cache size (default: its own)"
    )
    parser.add_argument("--child", choices=["setup", "score"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child == "score", args.names, args.cache_size)
        return
    require_data()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    setup = _instructions(False, args.names, args.cache_size)
    total = _instructions(True, args.names, args.cache_size)
    print(
        f"{args.names:,} NRD names vs 1,000 brands"
        f"{'' if args.cache_size is None else f', cache size {args.cache_size}'}: "
        f"{(total - setup) / args.names:,.0f} "
        f"instructions per name (setup {setup:,}, with scoring {total:,})"
    )


if __name__ == "__main__":
    main()
