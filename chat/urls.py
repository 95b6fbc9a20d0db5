"""The native chat API, included at /api/ by config/urls.py."""

from rest_framework.routers import SimpleRouter

from chat.api.views import ConversationViewSet

router = SimpleRouter()
router.register("conversations", ConversationViewSet, basename="conversation")

urlpatterns = router.urls
