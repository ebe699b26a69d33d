from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); django-stubs types its view as a Django view.
    path("ws/live/<slug:slug>/", consumers.LiveBlogConsumer.as_asgi()),  # type: ignore[arg-type]
    # Last: every other path is closed cleanly (NOT_FOUND) instead of raising in the router.
    re_path(r"", consumers.UnknownPathConsumer.as_asgi()),  # type: ignore[arg-type]
]
