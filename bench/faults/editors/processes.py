"""The editors drill's editor processes, from the drill's side: start, "go", results, stop.

Each editor is `python -m bench.faults.editors.worker ...` (bench/faults/editors/worker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from bench.common import PYTHON, ROOT


class Editors:
    """--editors-count worker processes: ready after Django's setup, start on "go"."""

    def __init__(self, drill, blog_id: int, run: int) -> None:
        self.drill = drill
        self.blog_id = blog_id
        self.run = run
        self.processes: list[asyncio.subprocess.Process] = []
        self.results: list[dict] = []

    async def start(self) -> None:
        args = self.drill.args
        env = {**self.drill.env, "DJANGO_CONN_MAX_AGE": "60"}
        count = args.editors_count
        for index in range(count):
            quota = args.editors_posts // count + (index < args.editors_posts % count)
            argv = [
                *("--blog-id", str(self.blog_id), "--index", str(index)),
                *("--posts", str(quota), "--seed", f"{args.seed}-{self.run}-{index}"),
                *("--edit-rate", str(args.editors_edit_rate)),
                *("--important-rate", str(args.editors_important_rate)),
                *("--delete-rate", str(args.editors_delete_rate)),
                *("--interval", str(args.editors_interval)),
            ]
            log = (self.drill.logdir / f"editor-{self.run}-{index}.log").open("wb")
            try:
                process = await asyncio.create_subprocess_exec(
                    PYTHON,
                    "-m",
                    "bench.faults.editors.worker",
                    *argv,
                    cwd=ROOT,
                    env=env,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                )
            finally:
                log.close()
            self.processes.append(process)
        for process in self.processes:
            line = await asyncio.wait_for(process.stdout.readline(), 90)
            if line.strip() != b"ready":
                raise RuntimeError(f"editor {process.pid} did not get ready: {line[:200]!r}")

    def go(self) -> None:
        for process in self.processes:
            process.stdin.write(b"go\n")

    async def wait(self, timeout: float) -> list[dict]:
        async def result(process: asyncio.subprocess.Process) -> dict:
            line = await process.stdout.readline()
            await process.wait()
            if not line.startswith(b"result "):
                raise RuntimeError(f"editor {process.pid} ended with {process.returncode}: {line[:200]!r}")
            return json.loads(line[len(b"result ") :])

        self.results = await asyncio.wait_for(asyncio.gather(*(result(p) for p in self.processes)), timeout)
        return self.results

    async def stop(self) -> None:
        """Each worker by its PID: SIGTERM, SIGKILL after 10 s."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await asyncio.wait_for(process.wait(), 10)
