"""Routes of the usage API, included under /api/ by config/urls.py."""

from django.urls import path

from usage.api.views import DailyUsageCSVView, DailyUsageView, UsageSummaryView

urlpatterns = [
    path("usage/daily/", DailyUsageView.as_view(), name="usage-daily"),
    path("usage/daily.csv", DailyUsageCSVView.as_view(), {"format": "csv"}, name="usage-daily-csv"),
    path("usage/summary/", UsageSummaryView.as_view(), name="usage-summary"),
]
