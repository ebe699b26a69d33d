"""Small figures helpers shared by the benchmarks: percentiles, tallies, tables, list options."""

from __future__ import annotations

import argparse
import statistics


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method); the value itself for one, nan for none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def tally(values) -> str:
    """ "503x9,200x3"-style counts of equal values (sorted), or "none"."""
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return ",".join(f"{k}x{n}" for k, n in sorted(counts.items())) or "none"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with padded columns, as the benchmarks print their summaries."""
    rows = [header, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def csv_ints(text: str) -> list[int]:
    """argparse type: "100,1000" -> [100, 1000]."""
    return [int(item) for item in text.split(",") if item.strip()]


def csv_choices(choices: set[str]):
    """argparse type: a comma-separated list of some of `choices`."""

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = set(items) - choices
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
        return items

    return parse


def smoke_defaults(parser: argparse.ArgumentParser, defaults: dict, argv: list[str] | None = None):
    """Parse the command line; with --smoke, `defaults` replace the parser's (explicit options win).

    The parser must have a --smoke flag. --smoke is the tiny run CI makes (tests/test_bench_smoke.py).
    """
    known, _ = parser.parse_known_args(argv)
    if known.smoke:
        parser.set_defaults(**defaults)
    return parser.parse_args(argv)
