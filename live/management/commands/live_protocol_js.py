from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from live.protocol import javascript_module

TARGET = Path("static") / "js" / "live" / "protocol.js"


class Command(BaseCommand):
    help = "Write static/js/live/protocol.js (the client's copy of the live protocol's names)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the file is out of date.")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        path = settings.BASE_DIR / TARGET
        wanted = javascript_module()
        if check:
            if not path.exists() or path.read_text() != wanted:
                raise SystemExit(f"{TARGET} is out of date: run `manage.py live_protocol_js`.")
            return
        path.write_text(wanted)
        self.stdout.write(f"Wrote {TARGET}")
