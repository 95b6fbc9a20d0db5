"""Routes of the providers API, included under /api/ by config/urls.py."""

from rest_framework.routers import SimpleRouter

from providers.api.views_catalog import ModelCatalogViewSet
from providers.api.views_groups import GroupViewSet
from providers.api.views_providers import ProviderViewSet
from providers.api.views_selections import SelectionViewSet

router = SimpleRouter()
router.register("providers", ProviderViewSet, basename="provider")
router.register("models", ModelCatalogViewSet, basename="model")
router.register("selections", SelectionViewSet, basename="selection")
router.register("groups", GroupViewSet, basename="group")

urlpatterns = router.urls
