"""The ``score`` command: score names from files or stdin against a brands file (JSON Lines)."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from service.detection.index import DetectionIndex, score_names
from service.detection.models import BrandSpec
from service.detection.normalize import InvalidDomain, normalize_domain
from service.exits import reader_gone, run_standalone

__all__ = ["BrandsFileError", "load_brands_file", "main", "register", "run"]

_BATCH = 2000
_PROGRESS_EVERY = 100_000


class BrandsFileError(ValueError):
    """A brands file that cannot be used; ``line`` is 1-based when known."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


def _line_of(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else None


def _str_list(node: yaml.Node, path: str, field: str) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        value = str(node.value).strip()
        return (value,) if value else ()
    if not isinstance(node, yaml.SequenceNode):
        raise BrandsFileError(path, f"'{field}' must be a list of strings", _line_of(node))
    out: list[str] = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
            raise BrandsFileError(
                path, f"'{field}' entries must be non-empty strings", _line_of(item)
            )
        out.append(str(item.value).strip())
    return tuple(out)


def load_brands_file(path: str | Path) -> list[BrandSpec]:
    """Read ``brands: [{name, domains, keywords, allow, watchlist, min_score}]`` (YAML/JSON)."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BrandsFileError(p, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BrandsFileError(p, "not UTF-8 text") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise BrandsFileError(p, f"invalid YAML: {exc.problem}", line) from exc
    except yaml.YAMLError as exc:
        raise BrandsFileError(p, f"invalid YAML: {exc}") from exc
    if root is None:
        raise BrandsFileError(p, "empty file; expected 'brands:' with a list of brands", 1)
    if not isinstance(root, yaml.MappingNode):
        raise BrandsFileError(p, "top level must be a mapping with a 'brands' list", _line_of(root))
    brands_node: yaml.Node | None = None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "brands":
            brands_node = v
    if brands_node is None:
        raise BrandsFileError(p, "missing 'brands' key", _line_of(root))
    if not isinstance(brands_node, yaml.SequenceNode):
        raise BrandsFileError(p, "'brands' must be a list", _line_of(brands_node))
    specs: list[BrandSpec] = []
    names: set[str] = set()
    for item in brands_node.value:
        line = _line_of(item)
        if not isinstance(item, yaml.MappingNode):
            raise BrandsFileError(p, "each brand must be a mapping with name and domains", line)
        fields: dict[str, yaml.Node] = {}
        for k, v in item.value:
            key = str(k.value) if isinstance(k, yaml.ScalarNode) else ""
            if key not in {"name", "domains", "keywords", "allow", "watchlist", "min_score"}:
                raise BrandsFileError(p, f"unknown brand field {key!r}", _line_of(k))
            fields[key] = v
        name_node = fields.get("name")
        if not isinstance(name_node, yaml.ScalarNode) or not str(name_node.value).strip():
            raise BrandsFileError(p, "brand needs a non-empty 'name'", line)
        name = str(name_node.value).strip()
        if name in names:
            raise BrandsFileError(p, f"duplicate brand name {name!r}", _line_of(name_node))
        names.add(name)
        if "domains" not in fields:
            raise BrandsFileError(p, f"brand {name!r} needs 'domains'", line)
        domains = _str_list(fields["domains"], p, "domains")
        if not domains:
            raise BrandsFileError(
                p, f"brand {name!r} needs at least one domain", _line_of(fields["domains"])
            )
        dnode = fields["domains"]
        items = dnode.value if isinstance(dnode, yaml.SequenceNode) else [dnode]
        for dom, dn in zip(domains, items, strict=False):
            try:
                n = normalize_domain(dom)
            except InvalidDomain as exc:
                raise BrandsFileError(
                    p, f"brand {name!r}: domain {dom!r}: {exc}", _line_of(dn)
                ) from exc
            if n.registrable is None:
                raise BrandsFileError(
                    p,
                    f"brand {name!r}: not a registrable domain: {n.ascii!r} is a public suffix",
                    _line_of(dn),
                )
        min_score: int | None = None
        if "min_score" in fields:
            ms = fields["min_score"]
            try:
                min_score = int(str(ms.value)) if isinstance(ms, yaml.ScalarNode) else None
            except ValueError:
                min_score = None
            if min_score is None or not 0 <= min_score <= 100:
                raise BrandsFileError(p, "min_score must be an integer 0-100", _line_of(ms))
        specs.append(
            BrandSpec(
                name=name,
                domains=domains,
                keywords=_str_list(fields["keywords"], p, "keywords")
                if "keywords" in fields
                else (),
                allow=_str_list(fields["allow"], p, "allow") if "allow" in fields else (),
                watchlist=_str_list(fields["watchlist"], p, "watchlist")
                if "watchlist" in fields
                else (),
                min_score=min_score,
            )
        )
    if not specs:
        raise BrandsFileError(p, "'brands' list is empty", _line_of(brands_node))
    return specs


def _open_input(name: str, stdin: IO[str]) -> IO[str]:
    if name == "-":
        return stdin
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(name, "rb"), encoding="utf-8", errors="replace")
    return open(name, encoding="utf-8", errors="replace")


def _lines(files: Sequence[str], stdin: IO[str]) -> Iterator[str]:
    for name in files or ["-"]:
        fh = _open_input(name, stdin)
        try:
            for line in fh:
                line = line.rstrip("\r\n")
                if line.strip() and not line.lstrip().startswith("#"):
                    yield line
        finally:
            if fh is not stdin:
                fh.close()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``score`` subcommand to a parent CLI."""
    p = subparsers.add_parser(
        "score",
        help="score domains or URLs against a brands file (JSON Lines on stdout)",
        description=(
            "Read one domain or URL per line from FILEs ('-' or none = stdin, .gz accepted) and "
            "write one JSON object per flagged name (or per input line with --all) to stdout. "
            "Exit codes: 0 ok, 2 bad brands file or unreadable input."
        ),
    )
    _add_arguments(p)
    p.set_defaults(func=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--brands",
        required=True,
        metavar="BRANDS.yaml",
        help="YAML/JSON file: brands: [{name, domains: [...], keywords: [...], allow: [...], "
        "watchlist: [...], min_score: N}]; keywords default to the first label of each domain",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="write a result for every input line, not only flagged names",
    )
    p.add_argument(
        "--min-score",
        type=int,
        default=None,
        metavar="N",
        help="flag names scoring at least N (0-100), overriding each brand's min_score "
        "and the default of 50",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr every 100,000 lines (default: on when stderr is a terminal)",
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="input files, one name per line; '-' or nothing reads stdin; .gz is decompressed",
    )


def run(
    args: argparse.Namespace,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Execute ``score``; returns the process exit code."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    try:
        brands = load_brands_file(args.brands)
        index = DetectionIndex.build(brands)
    except (BrandsFileError, InvalidDomain) as exc:
        print(f"phantomwatch score: bad brands file: {exc}", file=stderr)
        return 2
    min_score: int | None = args.min_score
    if min_score is not None and not 0 <= min_score <= 100:
        print("phantomwatch score: --min-score must be between 0 and 100", file=stderr)
        return 2
    progress = args.progress if args.progress is not None else stderr.isatty()
    t0 = time.monotonic()
    seen = flagged = errors = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal flagged, errors
        for res in score_names(index, batch):
            if res.error is None and min_score is not None:
                res.flagged = res.brand is not None and res.score >= min_score
            if res.error is not None:
                errors += 1
            if res.flagged:
                flagged += 1
            if args.all or res.flagged or res.error is not None:
                stdout.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
        batch.clear()

    try:
        for line in _lines(args.files, stdin):
            batch.append(line)
            seen += 1
            if len(batch) >= _BATCH:
                flush()
            if progress and seen % _PROGRESS_EVERY == 0:
                rate = seen / max(time.monotonic() - t0, 1e-9)
                print(f"scored {seen:,} names, {flagged:,} flagged ({rate:,.0f}/s)", file=stderr)
        flush()
        stdout.flush()
    except BrokenPipeError:
        return reader_gone()
    except OSError as exc:
        print(f"phantomwatch score: cannot read input: {exc}", file=stderr)
        return 2
    if progress or seen >= _PROGRESS_EVERY:
        print(
            f"done: {seen:,} names, {flagged:,} flagged, {errors:,} errors "
            f"in {time.monotonic() - t0:.1f}s",
            file=stderr,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m service.detection.command score ...``."""
    return run_standalone("phantomwatch", register, argv)


if __name__ == "__main__":
    raise SystemExit(main())
