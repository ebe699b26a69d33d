"""ASGI entry point: HTTP through Django, WebSockets through Channels, under Daphne."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
# Set up Django (apps, settings) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402


class Denier(WebsocketDenier):
    # Refuses the handshake (HTTP 403) without making a channel-layer channel first. The stubs
    # declare it ClassVar[str]; Channels takes None as "no layer" (get_channel_layer(None)).
    channel_layer_alias = None  # type: ignore[assignment]


class OriginRequired:
    """Refuses WebSocket handshakes without exactly one real Origin header.

    Browsers always send Origin on WebSocket handshakes; a missing one means a non-browser client,
    and "null" an opaque origin (sandboxed iframe, file:, data: URL), neither of which is our page.
    The Origin validator refuses both already unless ALLOWED_HOSTS contains "*"; this refuses
    them whatever ALLOWED_HOSTS says, and also refuses a repeated (ambiguous) Origin header.
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origins = [value for name, value in scope.get("headers", ()) if name == b"origin"]
            if len(origins) != 1 or origins[0].strip().lower() in (b"", b"null"):
                return await Denier()(scope, receive, send)
        return await self.application(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send Origin on every WebSocket handshake; only our own hosts may open one.
        # path() gives plain URLPatterns; the stubs want their _ExtendedURLPattern (ASGI callback).
        "websocket": OriginRequired(
            AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))  # type: ignore[arg-type]
        ),
    }
)
