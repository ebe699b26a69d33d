from django.apps import AppConfig


class LiveConfig(AppConfig):
    """Real time: the WebSocket consumer, the per-process hub, the wire protocol, catch-up."""

    name = "live"
    verbose_name = "Live updates"
