from django.urls import path

from config.audit.api import AuditEventListView

urlpatterns = [path("audit/", AuditEventListView.as_view(), name="audit-list")]
