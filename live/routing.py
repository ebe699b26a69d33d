from django.urls import path

from . import consumers

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); django-stubs types its view as a Django view.
    path("ws/live/<slug:slug>/", consumers.LiveBlogConsumer.as_asgi()),  # type: ignore[arg-type]
]
