"""Anthropic's Messages API, included at /anthropic/ by config/urls.py, so that clients set
their base URL to http://host/anthropic and keep their /v1/... paths."""

from django.urls import path

from chat.anthropic_api.views import CountTokensView, MessagesView, ModelDetailView, ModelsView

urlpatterns = [
    path("v1/messages", MessagesView.as_view(), name="anthropic-messages"),
    path("v1/messages/count_tokens", CountTokensView.as_view(), name="anthropic-count-tokens"),
    path("v1/models", ModelsView.as_view(), name="anthropic-models"),
    path("v1/models/<path:model_id>", ModelDetailView.as_view(), name="anthropic-model"),
]
