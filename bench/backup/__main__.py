"""`python -m bench.backup`: the backup drill for a big blog, with times and sizes.

    .venv/bin/python -m bench.backup                          # 10,000 posts, 100 of them with a photo
    .venv/bin/python -m bench.backup --posts 50000 --images 300
    .venv/bin/python -m bench.backup --smoke                  # 200 posts, 2 photos (CI's smoke run)

The demo site plus a big live blog in a fresh database on the local PostgreSQL (bench/backup/
site.py), its pages rendered, `scripts/backup` timed, `scripts/restore` into another fresh
database and media directory timed, the pages rendered again and compared (they must be
identical), then both databases dropped. Exit status 1 if anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.backup.drill import Drill, differences, media_files
from bench.common import check_local, smoke_defaults
from bench.common.stats import markdown_table


def mib(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="200 posts, 2 photos (CI's smoke run)")
    parser.add_argument("--posts", type=int, default=10_000, help="posts of the big blog")
    parser.add_argument("--images", type=int, default=100, help="of them with a photo (3 renditions each)")
    parser.add_argument(
        "--server-url",
        default="postgres://postgres@127.0.0.1:5432",
        help="the PostgreSQL server (no database): the drill creates and drops its own two",
    )
    args = smoke_defaults(parser, {"posts": 200, "images": 2}, argv)
    if error := check_local(args.server_url):
        parser.error(error)
    print(
        f"bench/backup {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
        f"{platform.platform()}; load average {os.getloadavg()[0]:.2f} at start",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-backup-drill-"))
    drill = Drill(args.server_url, workdir)
    try:
        populated = drill.populate(args.posts, args.images)
        print(f"populated in {populated.seconds:.1f} s: the demo + {args.posts} posts ({args.images} photos)")
        before = drill.snapshot("source")
        directory, backed_up = drill.backup()
        print(backed_up.output, end="")
        restored = drill.restore(directory)
        print(restored.output, end="")
        after = drill.snapshot("restored")
        diff = differences(before, after)
        same_media = media_files(drill.source_media) == media_files(drill.target_media)
        manifest = json.loads((directory / "manifest.json").read_text())
        phase = {
            key: float(value) for key, value in re.findall(r"(database|media) in ([\d.]+) s", restored.output)
        }
        dump, media = manifest["files"]["db.dump"]["bytes"], manifest["files"]["media.tar.gz"]["bytes"]
        seconds = manifest["seconds"]
        rows = [
            [
                "database",
                mib(drill.database_bytes(drill.source_url)),
                mib(dump),
                f"{seconds['database']:.1f} s",
            ],
            ["media", f"{manifest['media']['files']} files", mib(media), f"{seconds['media']:.1f} s"],
            ["whole command", "", "", f"{backed_up.seconds:.1f} s"],
        ]
        for row, part in zip(rows, ["database", "media", ""], strict=True):
            row.append(f"{phase[part]:.1f} s" if part else f"{restored.seconds:.1f} s")
        print(markdown_table(["part", "source", "backup", "backup time", "restore time"], rows))
        if diff:
            print("\n".join(diff[:20]))
        passed = not diff and same_media
        print(
            f"backup drill: {'PASS' if passed else 'FAIL'} posts={args.posts} photos={args.images} "
            f"pages={len(before)} differing={len(diff)} media_identical={'yes' if same_media else 'no'}"
        )
        return 0 if passed else 1
    finally:
        drill.drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
