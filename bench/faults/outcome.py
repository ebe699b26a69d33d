"""A scenario's result: its `[name] PASS ...` line and the summary table."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.common import markdown_table


@dataclass
class Outcome:
    scenario: str
    readers: int = 0
    posts_db: int = 0
    complete: int = 0
    missing: int = 0
    extra: int = 0
    settle: str = "-"
    catchups: str = "-"
    reconnect: str = "-"
    extra_figures: dict[str, str] = field(default_factory=dict)
    ok: bool = False
    probe_needed: bool = False  # complete only after a fresh socket: a FAIL of the fault handling

    def verdict(self) -> str:
        if self.probe_needed:
            return "FAIL*" if self.ok else "FAIL"
        return "PASS" if self.ok else "FAIL"

    def line(self) -> str:
        figures = " ".join(f"{key}={value}" for key, value in self.extra_figures.items())
        verdict = self.verdict()
        return (
            f"[{self.scenario}] {verdict} readers={self.readers} db_posts={self.posts_db} "
            f"complete={self.complete}/{self.readers} missing={self.missing} extra={self.extra} "
            f"settle={self.settle} catchups={self.catchups} reconnect={self.reconnect} {figures}"
        ).rstrip()


HEADER = [
    "scenario",
    "result",
    "readers",
    "db posts",
    "complete",
    "missing",
    "extra",
    "settle",
    "catch-ups",
    "reconnect s",
]


def print_table(outcomes: list[Outcome]) -> None:
    rows = [
        [
            o.scenario,
            o.verdict(),
            str(o.readers),
            str(o.posts_db),
            f"{o.complete}/{o.readers}",
            str(o.missing),
            str(o.extra),
            o.settle,
            o.catchups,
            o.reconnect,
        ]
        for o in outcomes
    ]
    print(markdown_table(HEADER, rows), flush=True)
    if any(o.probe_needed for o in outcomes):
        print(
            "FAIL* = readers were NOT complete within --settle-seconds after the fault; they became\n"
            "complete only after a fresh socket connected to the same Daphne (see after_probe).",
            flush=True,
        )
