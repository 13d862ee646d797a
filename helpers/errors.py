"""Turns a missing or wrong key, or an unreachable service, into one clear message.

The error is re-raised, so `with Run(...)` around it still records the run as Failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

SECRET_VARIABLES = ("OPENAI_API_KEY", "SERPAPI_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                    "AWS_ACCESS_KEY_ID", "AWS_BEARER_TOKEN_BEDROCK")
HINTS_VARIABLE = "NOTEBOOK_HINTS"  # "make": hints name make variables (LLM=offline), else notebook parameters
_MAKE_NAMES = {"llm_provider": "LLM", "backend": "BACKEND", "model_name": "MODEL", "experiment_name": "EXPERIMENT",
               "bucket": "BUCKET", "only": "ONLY"}


def setting(parameter: str, value: str) -> str:
    """How the user sets a notebook parameter, in the spelling they used: LLM=offline for make, else llm_provider='offline'."""
    if os.environ.get(HINTS_VARIABLE) == "make" and parameter in _MAKE_NAMES:
        return f"{_MAKE_NAMES[parameter]}={value}"
    return f"{parameter}={value!r}"


def _offline_hint() -> str:
    return f"or use {setting('llm_provider', 'offline')}"


class ProviderError(RuntimeError):
    """A configuration problem with a model or tool provider, said in one line."""

    def __init__(self, message: str):
        super().__init__(scrub_secrets(message))

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the traceback: the notebook shows one line.
        return [f"{type(self).__name__}: {self}"]


class ParameterError(ProviderError, ValueError):
    """A notebook parameter (or make variable) that cannot work, said in one line before anything runs."""


class BackendError(ProviderError):
    """A configuration problem with the SageMaker backend (credentials, region, profile), said in one line."""


def scrub_secrets(text: str, extra: Iterable[str] = ()) -> str:
    """text with the values of the secret environment variables (and `extra`) masked."""
    secrets = [os.environ.get(name, "") for name in SECRET_VARIABLES] + [s for s in extra if s]
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def safe_url(url: str | None) -> str | None:
    """The URL without user:password and query string, fit to print."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def describe(error: BaseException) -> str | None:
    """The one-line explanation for a known provider failure (or one it wraps), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = _describe_openai(current) or _describe_botocore(current) or _describe_requests(current)
        if message:
            return message
        current = current.__cause__ or current.__context__
    return None


def _describe_openai(error: BaseException) -> str | None:
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is pinned, but the helpers import without it
        return None
    where = safe_url(os.environ.get("OPENAI_BASE_URL")) or "https://api.openai.com/v1"
    if isinstance(error, openai.AuthenticationError):
        return (f"OPENAI_API_KEY was rejected by the server at {where} (HTTP 401). "
                f"Export a valid key, {_offline_hint()}.")
    if isinstance(error, openai.PermissionDeniedError):
        return f"The server at {where} refused this key access (HTTP 403). Check the key's project and permissions."
    if isinstance(error, openai.NotFoundError):
        return (f"The server at {where} does not serve this model (HTTP 404). "
                "Set model_name to a model it serves.")
    if isinstance(error, openai.RateLimitError):
        return f"The server at {where} is rate limiting this key or it has no quota left (HTTP 429). Wait, or check billing."
    if isinstance(error, openai.APIConnectionError):  # APITimeoutError is one too
        return (f"Could not reach the OpenAI-compatible server at {where} (OPENAI_BASE_URL sets it). "
                f"Check the URL and that the server is running, {_offline_hint()}.")
    if type(error) is openai.OpenAIError and ("OPENAI_API_KEY" in str(error) or "api_key" in str(error)):
        return f"OPENAI_API_KEY is not set. Export it, {_offline_hint()}."
    return None


def _describe_botocore(error: BaseException) -> str | None:
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover
        return None
    if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
        return ("No AWS credentials were found for Bedrock. Configure them (aws configure, AWS_PROFILE, "
                f"or a role), {_offline_hint()}.")
    if isinstance(error, boto.NoRegionError):
        return "Bedrock needs a region: set AWS_REGION or AWS_DEFAULT_REGION (e.g. us-east-1)."
    if isinstance(error, boto.EndpointConnectionError | boto.ConnectTimeoutError):
        endpoint = safe_url(getattr(error, "kwargs", {}).get("endpoint_url")) or "the Bedrock endpoint"
        return (f"Could not reach the AWS Bedrock endpoint {endpoint}. Check AWS_REGION and the network, "
                f"{_offline_hint()}.")
    if isinstance(error, boto.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDeniedException", "AccessDenied"):
            return ("Bedrock denied access (AccessDeniedException). Allow bedrock:InvokeModel for these "
                    "credentials and enable the model in the Bedrock console for this region.")
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
                    "InvalidClientTokenId", "SignatureDoesNotMatch"):
            return (f"AWS rejected the credentials ({code}). Refresh them (AWS_PROFILE, AWS_ACCESS_KEY_ID / "
                    f"AWS_SECRET_ACCESS_KEY, or aws sso login), {_offline_hint()}.")
        if code == "ResourceNotFoundException" or (code == "ValidationException"
                                                   and "model identifier" in str(error).lower()):
            return (f"Bedrock does not offer this model in this region ({code}). Set "
                    f"{setting('model_name', '<a Bedrock model id>')} or AWS_REGION.")
    return None


def _describe_requests(error: BaseException) -> str | None:
    try:
        import requests
    except ImportError:  # pragma: no cover
        return None
    if isinstance(error, requests.ConnectionError | requests.Timeout) and _raised_inside(error, "serpapi"):
        return ("Could not reach SerpAPI (SERPAPI_BASE_URL overrides its address). Check the network, "
                "or unset SERPAPI_API_KEY to use the offline search snapshot.")
    return None


def _raised_inside(error: BaseException, package: str) -> bool:
    """Whether the package's own code was on the stack when the error was raised."""
    marker = f"{os.sep}{package}{os.sep}"
    tb = error.__traceback__
    while tb is not None:
        if marker in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def explain_errors():
    """Re-raise known provider failures as one short ProviderError, without secrets or a deep traceback.

    Unknown errors pass through unchanged.
    """
    try:
        yield
    except ProviderError as error:
        # Raised deep inside a tool or chain: re-raise it here, short, like the ones mapped below.
        raise ProviderError(str(error)) from None
    except Exception as error:
        message = describe(error)
        if message is None:
            raise
        # The original is only logged at DEBUG, masked, for whoever needs the detail.
        log.debug("%s explained as: %s (%s)", type(error).__name__, message,
                  re.sub(r"\s+", " ", scrub_secrets(str(error)))[:500])
        raise ProviderError(message) from None
