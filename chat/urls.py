"""URL routes of this app (filled in by its issue)."""

urlpatterns: list = []
