"""Clients of the key-binding tests."""

import pytest
from rest_framework.test import APIClient

from tests.providers.api.conftest import grant


@pytest.fixture
def staff_client_with(staff_user):
    """A session-authenticated API client of a staff user holding exactly these permissions."""

    def make(*codenames: str) -> APIClient:
        client = APIClient()
        client.force_login(grant(staff_user, *codenames))
        return client

    return make


@pytest.fixture
def admin_client_api(superuser) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client
