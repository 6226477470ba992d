"""Backend for any OpenAI-compatible chat-completions endpoint.

Works with the OpenAI API and with local servers that speak the same protocol (vLLM,
llama.cpp's server, llm-katan, ...). The API key is read from an environment variable
named in the agent config, so the config and the run record can say *which* key was
used without containing it; the key is also scrubbed from error messages, which some
servers echo back.

Failures follow one policy: 429, 5xx, connection errors and timeouts are retried with
exponential back-off and jitter; other errors (bad request, auth, malformed response)
are permanent. Either way the turn ends in `BackendError` with the attempt count.

Each reply's usage holds its token counts, and its cost in US dollars when the config
gives ``pricing`` (:mod:`sandbox.agent.backends.openai_cost`). With ``cache`` a reply is
looked up before any request (:mod:`sandbox.agent.backends.openai_cache`); a hit
records the original reply's usage again, marked ``cache: hit``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from sandbox.agent.backends.openai_cache import CacheSpec, ResponseCache, cache_key
from sandbox.agent.backends.openai_cost import USAGE_CIRCUMSTANCES, Pricing
from sandbox.agent.backends.prompt import DEFAULT_SYSTEM_PROMPT, build_messages
from sandbox.agent.backends.retry import Retryable, RetryPolicy, call_with_retry
from sandbox.contracts import BackendError, GenerationRequest, GenerationResult
from sandbox.registry import backends

__all__ = ["OpenAIBackend", "redact_url"]

log = logging.getLogger(__name__)

_NO_KEY = "sk-no-key-configured"  # the client insists on some key; local servers ignore it
_OPTIONAL_PARAMS = ("seed", "temperature", "top_p")


def redact_url(url: str | None) -> str | None:
    """`url` without user-info, so credentials embedded in a base URL are never recorded."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = None if response is None else response.headers.get("retry-after")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None  # an HTTP date; fall back to our own back-off


@backends.register("openai")
class OpenAIBackend:
    """Replies from a chat-completions endpoint, with retries and a concurrency limit.

    Args:
        model: Model name sent with every request.
        base_url: Endpoint root, e.g. ``http://127.0.0.1:8000/v1``; None for api.openai.com.
        api_key_env: Name of the environment variable that holds the key; None for
            servers that need no key. A named but unset variable is a config error.
        system_prompt: Instructions placed before the composed context.
        temperature: Sampling temperature, sent as given (0 for the most repeatable runs).
        top_p: Nucleus sampling, sent only when set.
        max_tokens: Reply length cap.
        send_seed: Send the request seed; servers that reject a parameter get it dropped.
        timeout_s: Per-request timeout.
        max_attempts: Tries per turn, the first included.
        backoff_base_s: First back-off cap; it doubles per retry.
        backoff_max_s: Longest single wait.
        max_concurrency: Requests in flight at once from this backend (one per run).
        extra_body: Extra JSON fields for servers with their own options.
        pricing: USD per 1000 prompt and completion tokens; each reply records its cost.
        cache: Response cache (``{path: ...}``, a SQLite file shared by runs and
            processes); a request seen before is answered from it, with no HTTP call.
        name: Name recorded on agent turns.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        temperature: float | None = 0.0,
        top_p: float | None = None,
        max_tokens: Annotated[int, Field(ge=1)] = 256,
        send_seed: bool = True,
        timeout_s: Annotated[float, Field(gt=0.0)] = 60.0,
        max_attempts: Annotated[int, Field(ge=1)] = 4,
        backoff_base_s: Annotated[float, Field(ge=0.0)] = 0.5,
        backoff_max_s: Annotated[float, Field(ge=0.0)] = 20.0,
        max_concurrency: Annotated[int, Field(ge=1)] = 4,
        extra_body: dict[str, Any] | None = None,
        pricing: Pricing | None = None,
        cache: CacheSpec | None = None,
        name: str = "openai",
    ):
        import openai

        self._openai = openai
        if api_key_env is not None:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"environment variable {api_key_env!r} (the API key) is not set")
            self._key: str | None = key
        else:
            self._key = None
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.name = name
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.system_prompt = system_prompt
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.extra_body = dict(extra_body or {})
        self.policy = RetryPolicy(max_attempts, backoff_base_s, backoff_max_s)
        self._optional: dict[str, Any] = {"temperature": temperature, "top_p": top_p}
        self._send_seed = send_seed
        self._rejected: set[str] = set()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self.pricing = Pricing.model_validate(pricing) if pricing is not None else None
        spec = CacheSpec.model_validate(cache) if cache is not None else None
        self.cache = ResponseCache(spec.path, spec.timeout_s) if spec is not None else None
        self._client = openai.OpenAI(
            api_key=self._key or _NO_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,  # retries are ours, so attempts are counted and recorded
        )

    def describe(self) -> dict[str, Any]:
        """Settings for the run header: everything needed to rerun, never the key."""
        return {
            "backend": "openai",
            "model": self.model,
            "base_url": redact_url(self.base_url),
            "api_key_env": self.api_key_env,
            "max_tokens": self.max_tokens,
            "timeout_s": self.timeout_s,
            "max_attempts": self.policy.max_attempts,
            **{k: v for k, v in self._optional.items() if v is not None},
            **({"pricing": self.pricing.model_dump()} if self.pricing else {}),
            **({"cache": str(self.cache.path)} if self.cache else {}),
        }

    def close(self) -> None:
        """Close pooled connections and the cache (the run calls this when it ends)."""
        self._client.close()
        if self.cache is not None:
            self.cache.close()

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return text

    def _params(self, seed: int) -> dict[str, Any]:
        params = {k: v for k, v in self._optional.items() if v is not None}
        if self._send_seed:
            params["seed"] = seed
        return {k: v for k, v in params.items() if k not in self._rejected}

    def _call_once(self, messages: list[dict[str, str]], seed: int) -> tuple[Any, dict[str, Any]]:
        resp, params = self._request(messages, seed)
        self._text(resp)  # malformed replies fail inside the retry loop, to count attempts
        return resp, params

    def _request(self, messages: list[dict[str, str]], seed: int) -> tuple[Any, dict[str, Any]]:
        oa = self._openai
        params = self._params(seed)
        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self.max_tokens,
                extra_body=self.extra_body or None,
                **params,
            )
        except (oa.RateLimitError, oa.InternalServerError) as exc:
            raise Retryable(self._scrub(str(exc)), _retry_after(exc)) from None
        except oa.APITimeoutError:
            raise Retryable(f"no response within {self.timeout_s:g} s") from None
        except oa.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise Retryable(self._scrub(f"connection error: {cause}")) from None
        except oa.BadRequestError as exc:
            # Some compatible servers reject optional parameters; drop the one named
            # and try again at once (this counts as an attempt).
            msg = str(exc).lower()
            dropped = [p for p in params if p in msg and p not in self._rejected]
            if dropped:
                self._rejected.update(dropped)
                log.warning("endpoint rejected %s; sending without it", ", ".join(dropped))
                raise Retryable(self._scrub(str(exc)), retry_after=0.0) from None
            raise BackendError(self._scrub(f"request rejected: {exc}")) from None
        except oa.APIStatusError as exc:
            # Request timeout and conflict are worth another try, like 5xx; other 4xx are not.
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise Retryable(self._scrub(str(exc)), _retry_after(exc)) from None
            raise BackendError(self._scrub(f"request failed: {exc}")) from None
        except ValueError as exc:  # the body was not JSON
            raise BackendError(f"malformed response (not JSON): {exc}") from None
        return resp, params

    def _text(self, resp: Any) -> tuple[str, str | None]:
        choices = getattr(resp, "choices", None)
        if not isinstance(resp, self._openai.types.chat.ChatCompletion) or not choices:
            shown = repr(resp)[:200]
            raise BackendError(f"malformed response (no choices): {self._scrub(shown)}")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None:
            raise BackendError("malformed response (choice without message)")
        return message.content or "", choice.finish_reason

    def _request_key(self, messages: list[dict[str, str]], seed: int) -> str:
        """Cache key: every setting that shapes the reply, as configured (not as learned)."""
        return cache_key(
            {
                "base_url": redact_url(self.base_url),
                "model": self.model,
                "messages": messages,
                "max_tokens": self.max_tokens,
                "params": {k: v for k, v in self._optional.items() if v is not None},
                "seed": seed if self._send_seed else None,
                "extra_body": self.extra_body,
            }
        )

    def _cached(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """A cached reply's text and recorded usage; an unreadable entry is a miss."""
        assert self.cache is not None
        body = self.cache.get(key)
        if body is None:
            return None
        try:
            entry = json.loads(body)
            return str(entry["text"]), dict(entry["usage"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable cache entry %s; asking the endpoint", self.name, key)
            return None

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Send the composed chat and return the reply with usage and settings recorded.

        Raises:
            BackendError: when the policy's attempts are spent or the failure is permanent.
        """
        messages = build_messages(request, self.system_prompt)
        started = time.perf_counter()
        key = self._request_key(messages, request.seed) if self.cache is not None else None
        hit = self._cached(key) if key is not None else None
        if hit is not None:
            text, usage = hit
            usage["cache"] = "hit"
            usage["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
            usage["queue_ms"] = 0.0
            return GenerationResult(text=text, usage=self._priced(usage))
        text, usage = self._ask(messages, request.seed, started)
        if key is not None:
            assert self.cache is not None
            kept = {k: v for k, v in usage.items() if k not in USAGE_CIRCUMSTANCES}
            self.cache.put(key, json.dumps({"text": text, "usage": kept}, sort_keys=True))
            usage["cache"] = "miss"
        return GenerationResult(text=text, usage=self._priced(usage))

    def _priced(self, usage: dict[str, Any]) -> dict[str, Any]:
        if self.pricing is not None and "prompt_tokens" in usage:
            usage["cost_usd"] = self.pricing.cost(
                int(usage["prompt_tokens"] or 0), int(usage.get("completion_tokens") or 0)
            )
        return usage

    def _ask(
        self, messages: list[dict[str, str]], seed: int, started: float
    ) -> tuple[str, dict[str, Any]]:
        """One reply from the endpoint, with retries, and its usage record."""
        with self._slots:
            waited = time.perf_counter() - started

            def on_retry(attempt: int, exc: Exception, wait: float) -> None:
                log.info(
                    "%s: attempt %d failed (%s); retrying in %.2f s", self.name, attempt, exc, wait
                )

            (resp, params), attempts = call_with_retry(
                lambda: self._call_once(messages, seed),
                self.policy,
                what=f"{self.name} ({self.model})",
                on_retry=on_retry,
            )
            text, finish = self._text(resp)
        usage: dict[str, Any] = {
            "model": self.model,
            "response_model": getattr(resp, "model", None),
            "seed": seed,
            "seed_sent": "seed" in params,
            **{k: v for k, v in params.items() if k != "seed"},
            "max_tokens": self.max_tokens,
            "attempts": attempts,
            "finish_reason": finish,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "queue_ms": round(waited * 1000, 3),
        }
        if resp.usage is not None:
            usage["prompt_tokens"] = resp.usage.prompt_tokens
            usage["completion_tokens"] = resp.usage.completion_tokens
            usage["total_tokens"] = resp.usage.total_tokens
        if getattr(resp, "system_fingerprint", None):
            usage["system_fingerprint"] = resp.system_fingerprint
        return text, usage
