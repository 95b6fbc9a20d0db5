"""The OpenAI-compatible API, included at /v1/ by config/urls.py."""

from django.urls import path

from chat.responses_api.views import ResponseDetailView, ResponsesView
from chat.v1.views import ChatCompletionsView, EmbeddingsView, ModelsView

urlpatterns = [
    path("chat/completions", ChatCompletionsView.as_view(), name="v1-chat-completions"),
    path("embeddings", EmbeddingsView.as_view(), name="v1-embeddings"),
    path("models", ModelsView.as_view(), name="v1-models"),
    path("responses", ResponsesView.as_view(), name="v1-responses"),
    path("responses/<str:response_id>", ResponseDetailView.as_view(), name="v1-response-detail"),
]
