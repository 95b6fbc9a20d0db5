"""The staff playground, included at /playground/ by config/urls.py."""

from django.urls import path

from chat.views import playground, playground_stream

urlpatterns = [
    path("", playground, name="playground"),
    path("stream/", playground_stream, name="playground-stream"),
]
