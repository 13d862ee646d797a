"""Removes secrets before anything is written: sensitive keys, key-shaped strings, known secret values."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"api[_-]?key|secret|passw(or)?d|pwd|passphrase|cookie|authorization|credential|private[_-]?key"
    r"|token$|^x-api-key$",  # token, api_token, hf_token, ... (not max_tokens or input_tokens)
    re.IGNORECASE,
)
# Tokenizer and streaming settings named like tokens are not secrets.
_HARMLESS_KEY = re.compile(r"(^|[_-])(eos|bos|pad|unk|sep|cls|mask|stop|start|end|first|last|next)[_-]token$",
                           re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"sk-[A-Za-z0-9_\-]{16,}"            # OpenAI keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"     # AWS access key ids
    r"|\b[0-9a-f]{64}\b"                  # SerpAPI keys
    r"|(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"  # AWS secret keys, if mixed (see _redacted)
)
_MIXED = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"))
_SECRET_ENV_VARS = (
    "OPENAI_API_KEY", "SERPAPI_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY",
)


class Redactor:
    """Callable that returns a copy of JSON-safe data with secrets replaced by [REDACTED].

    serialize.to_jsonable also uses hides_key() and redact_text() to redact while it converts.
    """

    placeholder = REDACTED

    def __init__(self, mask: Callable[[Any], Any] | None = None):
        self.mask = mask
        self._known = sorted(
            (v for name in _SECRET_ENV_VARS if len(v := os.environ.get(name, "")) >= 8),
            key=len,
            reverse=True,
        )
        self._shortest = min([16, *map(len, self._known)])  # shorter strings cannot hold a secret
        self._key_verdicts: dict[str, bool] = {}

    def hides_key(self, key: str) -> bool:
        """Whether a value under this key is a secret (cached: the same few keys come back all the time)."""
        verdict = self._key_verdicts.get(key)
        if verdict is None:
            verdict = bool(_SENSITIVE_KEY.search(key)) and not _HARMLESS_KEY.search(key)
            if len(self._key_verdicts) < 10_000:
                self._key_verdicts[key] = verdict
        return verdict

    def apply_mask(self, data: Any) -> Any:
        return self.mask(data) if self.mask is not None else data

    def __call__(self, data: Any) -> Any:
        data = self._walk(data)
        return self.mask(data) if self.mask is not None else data

    def _walk(self, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: REDACTED if self.hides_key(str(k)) and v not in (None, "") else self._walk(v)
                for k, v in data.items()
            }
        if isinstance(data, list):
            return [self._walk(v) for v in data]
        if isinstance(data, str):
            return self.redact_text(data)
        return data

    def redact_text(self, text: str) -> str:
        if len(text) < self._shortest:
            return text
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SECRET_VALUE.sub(_redacted, text)


def _redacted(match: re.Match) -> str:
    """A 40-character run is an AWS secret key only if it mixes lower case, upper case and digits
    (a git SHA or a plain word does not)."""
    found = match.group(0)
    if len(found) == 40 and not found.startswith("sk-") and not all(p.search(found) for p in _MIXED):
        return found
    return REDACTED
