"""Turns a missing or wrong key, or an unreachable service, into one clear message.

The error is re-raised, so `with Run(...)` around it still records the run as Failed.
"""

from __future__ import annotations

import contextlib


class ProviderError(RuntimeError):
    """A configuration problem with a model or tool provider, said in one line."""

    def _render_traceback_(self):  # IPython shows this instead of a long traceback
        return [f"{type(self).__name__}: {self}"]


def describe(error: BaseException) -> str | None:
    """The one-line explanation for a known provider failure (or one it wraps), or None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        message = _describe_one(error)
        if message:
            return message
        error = error.__cause__ or error.__context__
    return None


def _describe_one(error: BaseException) -> str | None:
    name = type(error).__name__
    module = type(error).__module__ or ""
    text = str(error)
    if module.startswith(("openai", "langchain_openai")):
        name = name.removeprefix("OpenAI") if name != "OpenAIError" else name  # langchain-openai's wrappers
        if name == "AuthenticationError":
            return "OPENAI_API_KEY was rejected by the OpenAI API. Export a valid key, or use llm_provider='offline'."
        if name in ("APIConnectionError", "APITimeoutError"):
            return ("Could not reach the OpenAI-compatible server (OPENAI_BASE_URL or api.openai.com). "
                    "Check the URL and that the server is running, or use llm_provider='offline'.")
        if name == "NotFoundError":
            return "The OpenAI-compatible server does not know this model. Set model_name to one it serves."
        if name == "OpenAIError" and "api_key" in text:
            return "OPENAI_API_KEY is not set. Export it, or use llm_provider='offline'."
    if module.startswith("botocore"):
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return "No AWS credentials were found for Bedrock. Configure them (aws configure, or a role), or use llm_provider='offline'."
        if name in ("EndpointConnectionError", "ConnectTimeoutError"):
            return "Could not reach the AWS endpoint (Bedrock). Check AWS_REGION and the network."
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return f"Bedrock refused the call ({code}). Check the credentials and enable the model for your region."
    return None


@contextlib.contextmanager
def explain_errors():
    """Re-raise known provider failures as a short ProviderError, without secrets or a deep traceback."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as error:
        message = describe(error)
        if message is None:
            raise
        raise ProviderError(message) from None
