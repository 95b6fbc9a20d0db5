"""Staff API tokens (django-rest-knox): created here, shown once, stored only as a digest.

Knox keeps a SHA-512 digest of each token and its first characters (`token_key`, to find the
row), never the token itself, so a copy of the database authenticates no one. Every token
expires: a staff token is a password-equivalent, and one that outlives its purpose should die
on its own rather than wait to be noticed.
"""

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django_otp import user_has_device
from knox.models import AuthToken

from config.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

# The longest life a token may be given; the default comes from REST_KNOX["TOKEN_TTL"].
STAFF_TOKEN_MAX_TTL = timedelta(days=365)


def staff_token_create(*, username: str, ttl: timedelta | None = None) -> tuple[AuthToken, str]:
    """Create an API token for an active staff user; returns (row, token).

    The token is returned once and cannot be recovered later: only its digest is stored.
    Non-staff and inactive users are refused because the staff API would refuse them anyway,
    and a token that cannot be used is only a liability; so are users without a confirmed
    second factor. Creation is audited (the token row is tracked by config.audit).
    `ttl` None means the configured default (REST_KNOX["TOKEN_TTL"]).
    """
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    if not user.is_active:
        raise InvalidInput(f"User {username!r} is inactive; activate the account first.")
    if not user.is_staff:
        raise InvalidInput(
            f"User {username!r} is not staff; staff API tokens are only for staff users "
            "(programs use consumer API keys: manage.py create_api_key)."
        )
    if not user_has_device(user, confirmed=True):
        # A token skips the sign-in, so only someone who has proven a second factor may hold
        # one; otherwise a stolen password alone could mint a long-lived credential.
        raise InvalidInput(
            f"User {username!r} has no second factor: they sign in to admin and set one up "
            "first (admin → Second factor)."
        )
    if ttl is None:
        instance, token = AuthToken.objects.create(user)
    else:
        if not timedelta(0) < ttl <= STAFF_TOKEN_MAX_TTL:
            raise InvalidInput(
                f"A token lives more than 0 and at most {STAFF_TOKEN_MAX_TTL.days} days.",
                details={"fields": {"ttl": ["Out of range."]}},
            )
        instance, token = AuthToken.objects.create(user, expiry=ttl)
    logger.info("Staff API token created for %s, expiring %s", username, instance.expiry)
    return instance, token
