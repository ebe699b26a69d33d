from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/live/<slug:slug>/", consumers.LiveBlogConsumer.as_asgi()),
]
