"""The one attempt loop of every call (complete, stream, embed) and its one decision.

For each candidate that can serve (CallRun.candidates), `attempt_loop` calls it; after an
error, `decide` says what happens next: retry the same candidate after a delay, fail over to
the next candidate, or stop the call with the error. Every attempt that fails is recorded
here; a success is returned to the caller, which records it when it knows its usage (at once
for complete and embed, when the stream ends for a stream).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from chat.runtime.call import Attempt, CallRun, Prepared
from config.errors import InvalidInput
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import (
    ContextLengthExceededError,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailableError,
)
from providers.resolution import ResolvedModel
from providers.selectors import provider_adapter_get

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["retry", "failover", "stop"]
    delay: float = 0.0  # seconds to wait before a retry


FAILOVER = Decision("failover")
STOP = Decision("stop")


def decide(run: CallRun, error: ProviderError, candidate: ResolvedModel, retries: int) -> Decision:
    """What to do after `error` on `candidate` (its `retries`-th retry failed):
    - a retryable error (rate limit, timeout, 5xx) counts against the provider's breaker and
      is retried after a backoff while the provider's retries, the breaker and the call's
      deadline allow, then fails over;
    - a model the provider does not know, or a request too long for it, fails over to the
      candidates that could still take it;
    - anything else (authentication, permission, bad request) no other candidate can cure:
      stop."""
    run.last_error = error
    if error.retryable:
        run.breaker.record_failure(candidate.provider_slug)
        if retries >= candidate.provider_max_retries:
            return FAILOVER
        delay = run.policy.backoff(retry_number=retries + 1, retry_after=error.retry_after)
        if not run.deadline.allows(delay) or not run.breaker.allow(candidate.provider_slug):
            return FAILOVER
        return Decision("retry", delay)
    if isinstance(error, ModelNotFoundError):
        run.excluded_models.add(candidate.model_string)
        return FAILOVER
    if isinstance(error, ContextLengthExceededError):
        run.min_context = max(run.min_context or 0, candidate.context_window or 0)
        run.excluded_models.add(candidate.model_string)
        return FAILOVER
    return STOP


def attempt_loop(
    run: CallRun,
    prepare: Callable[[ResolvedModel], tuple[Any, int] | str],
    needs: frozenset[str],
    call: Callable[[ProviderAdapter, Prepared, Attempt], R],
) -> tuple[Prepared, Attempt, R]:
    """The first success of `call` over the candidates, each retried as `decide` says; raises
    the error that stopped the call, or why no candidate could serve."""
    for prepared in run.candidates(prepare, needs):
        candidate = prepared.candidate
        adapter = provider_adapter_get(
            slug=candidate.provider_slug, version=candidate.provider_version
        )
        retries = 0
        while True:
            attempt = run.attempt_begin(prepared)
            try:
                return prepared, attempt, call(adapter, prepared, attempt)
            except ProviderError as error:
                run.record(prepared=prepared, attempt=attempt, usage=attempt.usage, error=error)
                decision = decide(run, error, candidate, retries)
                if decision.action == "stop":
                    raise
                if decision.action == "failover":
                    break
                time.sleep(decision.delay)
                retries += 1
            except Exception as error:
                run.record(prepared=prepared, attempt=attempt, usage=attempt.usage, error=error)
                raise
        if run.out_of_time():
            break
    raise no_candidate_error(run)


def no_candidate_error(run: CallRun) -> Exception:
    """What to raise when every candidate was skipped or failed."""
    if run.last_error is not None:
        return run.last_error
    skipped = {reason: models for reason, models in run.skipped.items()}
    if "capability" in skipped and len(skipped) == 1:
        return InvalidInput(
            "No model of this selection supports what the request needs "
            "(tools, images or JSON output).",
            details={"skipped": skipped},
        )
    if "context_window" in skipped and len(skipped) == 1:
        return ContextLengthExceededError(
            "The request does not fit the context window of any model of this selection.",
            details={"skipped": skipped},
        )
    if "kind" in skipped and len(skipped) == 1:
        return InvalidInput(
            f"No model of this selection is a {run.operation} model.",
            details={"skipped": skipped},
        )
    retry_after = None
    if "circuit_open" in skipped:
        opened = set(skipped["circuit_open"])
        slugs = {c.provider_slug for c in run.selection.candidates if c.model_string in opened}
        retry_after = run.breaker.seconds_until_half_open(sorted(slugs))
    return ProviderUnavailableError(
        "No model of this selection can serve the request right now.",
        retry_after=retry_after,
        details={"skipped": skipped},
    )
