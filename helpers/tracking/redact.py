"""Removes secrets before anything is written: sensitive keys, known secret values, key-shaped strings.

The key shapes come from detect-secrets' plugins (GitHub, JWT, Slack, Stripe, AWS, URL credentials, ...) plus
the formats it lacks (Hugging Face, Google, LangSmith, Bearer, Azure, PEM blocks, Bedrock API keys, query keys).
A cheap prefilter runs on every string; the combined pattern only on strings it flags.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any

import orjson

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"api[_-]?key|apikey|secret|passw(or)?d|pwd|passphrase|cookie|authorization|credential|private[_-]?key"
    r"|access[_-]?key|bearer|signature|token$|^x-api-key$",  # token, api_token, hf_token (not max_tokens)
    re.IGNORECASE,
)
# Tokenizer and streaming settings named like tokens are not secrets.
_HARMLESS_KEY = re.compile(r"(^|[_-])(eos|bos|pad|unk|sep|cls|mask|stop|start|end|first|last|next)[_-]token$",
                           re.IGNORECASE)


def _detect_secrets_patterns() -> list[str]:
    """The value patterns of detect-secrets' plugins that need no surrounding keyword."""
    from detect_secrets.plugins import (
        aws,
        azure_storage_key,
        discord,
        github_token,
        gitlab_token,
        jwt,
        mailchimp,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    detectors = [aws.AWSKeyDetector, azure_storage_key.AzureStorageKeyDetector, discord.DiscordBotTokenDetector,
                 github_token.GitHubTokenDetector, gitlab_token.GitLabTokenDetector, jwt.JwtTokenDetector,
                 mailchimp.MailchimpDetector, openai.OpenAIDetector, pypi_token.PypiTokenDetector,
                 sendgrid.SendGridDetector, slack.SlackDetector, square_oauth.SquareOAuthDetector,
                 stripe.StripeDetector, telegram_token.TelegramBotTokenDetector, twilio.TwilioKeyDetector]
    patterns = [pattern.pattern for detector in detectors for pattern in detector.denylist]
    return [re.sub(r"\((?!\?)", "(?:", p) for p in patterns if not p.startswith("aws.")]  # no capturing groups


_OWN_PATTERNS = [
    r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|.*)",  # PEM
    r"PuTTY-User-Key-File-\d.*",
    r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_\-+/=]*",  # JWTs, signature included
    r"xox[abposr]-[A-Za-z0-9-]{10,}",                     # Slack tokens, any case
    r"github_pat_[A-Za-z0-9_]{22,}",                      # GitHub fine-grained tokens
    r"\bhf_[A-Za-z0-9]{30,}",                             # Hugging Face
    r"\bAIza[0-9A-Za-z_\-]{35}",                          # Google API keys
    r"\blsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}",                # LangSmith
    r"\bABSK[A-Za-z0-9+/=]{20,}",                         # Bedrock API keys (AWS_BEARER_TOKEN_BEDROCK)
    r"(?i:bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*",            # Authorization: Bearer <token>
    r"\b[rs]k_(?:live|test)_[0-9a-zA-Z]{16,}",             # Stripe, test keys too
    r"sk-[A-Za-z0-9_\-]{16,}",                            # OpenAI, Anthropic (sk-ant-), DeepSeek
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",                     # AWS access key ids
    r"\b[0-9a-f]{64}\b",                                  # SerpAPI keys
    r"\b[0-9a-fA-F]{32}\b",                               # Azure OpenAI / Cognitive Services keys
    # AWS secret keys, if mixed (see _replace); one may follow a "/" (in a URL path)
    r"(?P<b64>(?<![A-Za-z0-9+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))",
]
_URL_USERINFO = r"(?P<url>://[^:/?#\[\]@\s]+:)[^/?#\[\]@\s]+@"  # https://user:password@host
_QUERY_KEY = (r"(?P<query>[?&;](?:[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|sig|signature|auth|credential)"
              r"[\w.-]*)=)(?!-----BEGIN|(?i:bearer)\s)[^&#\s\"']+")  # (a PEM block there is redacted whole, below)
# The first alternative that matches wins: the fuller own patterns first, the generic shapes last.
_PATTERN = re.compile("|".join([_URL_USERINFO, _QUERY_KEY, *(f"(?:{p})" for p in _OWN_PATTERNS[:-3]),
                                *(f"(?:{p})" for p in _detect_secrets_patterns()),
                                *(f"(?:{p})" for p in _OWN_PATTERNS[-3:])]), re.DOTALL)
# Every pattern needs a run of 16+ token characters, URL credentials, a key in a query, or a PEM marker.
_PREFILTER = re.compile(r"[A-Za-z0-9_\-+/=.]{16}|://[^\s/@]*@|[?&;][\w.-]*=|PRIVATE KEY|PuTTY|[Bb]earer\s")
_SECRET_ENV_NAME = re.compile(r"(^|_)(API_?KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY|ACCESS_KEY)"
                              r"($|_)", re.IGNORECASE)  # not PWD (the working directory) or TOKENIZERS_...
_MIXED = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"))

# The prefilter's conditions on orjson's UTF-8 JSON text, each one true whenever the prefilter's is for some
# string in it (escapes only add token characters; non-ASCII bytes count as word characters).
_TOKEN_CLASS = bytes(1 if chr(i) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=." else 0
                     for i in range(256))
_TOKEN_RUN = b"\x01" * 16
_URL_USERINFO_BYTES = re.compile(rb"://[^\s/@]*@")
_QUERY_BYTES = re.compile(rb"[?&;](?:[\w.-]|[\x80-\xff])*=")
_LITERALS = (b"PRIVATE KEY", b"PuTTY", b"earer")
# Words every sensitive key holds; IGNORECASE also folds these four non-ASCII letters to ASCII ones.
_KEY_WORDS = (b"key", b"secret", b"passw", b"passphrase", b"pwd", b"cookie", b"authoriz", b"credential", b"bearer",
              b"signature", b"token")
_FOLDING = ("\u0130", "\u0131", "\u017f", "\u212a")
_FOLDING_BYTES = tuple(c.encode() for c in _FOLDING)
_TEXT_CACHE_CHARS = 256  # short strings that needed the full pattern (model names, keys): cached
_TEXT_CACHE_SIZE = 4096


def _known_secrets() -> list[str]:
    """Values of environment variables named like secrets (OPENAI_API_KEY, AWS_BEARER_TOKEN_BEDROCK, ...)."""
    found = {v for name, v in os.environ.items() if len(v) >= 8 and _SECRET_ENV_NAME.search(name)}
    return sorted(found, key=len, reverse=True)


class Redactor:
    """Callable that returns a copy of JSON-safe data with secrets replaced by [REDACTED].

    serialize.to_jsonable also uses hides_key() and redact_text() to redact while it converts.
    """

    placeholder = REDACTED

    def __init__(self, mask: Callable[[Any], Any] | None = None):
        self.mask = mask
        self._key_verdicts: dict[str, bool] = {}
        self._text_cache: dict[str, str] = {}
        self.read_environment()

    def read_environment(self) -> None:
        """(Re)read the values of secret-named environment variables that redact_text replaces."""
        known = _known_secrets()
        if known == getattr(self, "_known", None):
            return
        self._known = known
        self._text_cache.clear()
        try:
            self._known_json: list[bytes] | None = [orjson.dumps(secret)[1:-1] for secret in known]
        except (TypeError, orjson.JSONEncodeError):  # a secret that is no valid text: never screen by bytes
            self._known_json = None

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
                self.redact_text(str(k)): REDACTED if self.hides_key(str(k)) and v not in (None, "") else self._walk(v)
                for k, v in data.items()
            }
        if isinstance(data, list):
            return [self._walk(v) for v in data]
        if isinstance(data, str):
            return self.redact_text(data)
        return data

    def redact_text(self, text: str) -> str:
        if len(text) < 8:
            return text
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if _PREFILTER.search(text) is None:
            return text
        if len(text) > _TEXT_CACHE_CHARS:
            return _PATTERN.sub(_replace, text)
        cleaned = self._text_cache.get(text)
        if cleaned is None:
            cleaned = _PATTERN.sub(_replace, text)
            if len(self._text_cache) >= _TEXT_CACHE_SIZE:
                self._text_cache.clear()
            self._text_cache[text] = cleaned
        return cleaned

    def json_may_hold_secret(self, data: bytes) -> bool:
        """Whether any string in orjson's JSON text `data` could be changed by redact_text (False: none can).

        A screen for the serializer's fast path: true for every text the prefilter flags, and more.
        """
        if self._known_json is None:
            return True
        tokens = data.translate(_TOKEN_CLASS)
        start = tokens.find(_TOKEN_RUN)
        while start != -1:  # a long run of token characters: fine if it is a whole string redact_text keeps
            end = tokens.find(b"\x00", start)
            if data[start - 1] != 0x22 or data[end] != 0x22:
                return True
            text = data[start:end].decode("ascii")
            if self.redact_text(text) != text:
                return True
            start = tokens.find(_TOKEN_RUN, end)
        if b"://" in data and _URL_USERINFO_BYTES.search(data):
            return True
        if (b"?" in data or b"&" in data or b";" in data) and _QUERY_BYTES.search(data):
            return True
        return any(word in data for word in _LITERALS) or any(secret in data for secret in self._known_json)

    def json_hides_a_key(self, data: bytes, max_key_chars: int) -> bool:
        """Whether a key of orjson's JSON text `data` is one hides_key() hides, is longer than max_key_chars,
        or cannot be read back without decoding (False: every key is plain and kept)."""
        if len(data) > max_key_chars or _has_key_word(data.lower()):
            keys = _json_keys(data)
            if keys is None:
                return True
            for key in keys:
                if len(key) > max_key_chars or self.hides_key(key):
                    return True
        return not data.isascii() and any(letter in data for letter in _FOLDING_BYTES)


def _has_key_word(lower: bytes) -> bool:
    for word in _KEY_WORDS:
        if word in lower:
            return True
    return False


def _json_keys(data: bytes) -> list[str] | None:
    """The keys of compact JSON text (each ends in an unescaped '":'); None if one holds an escape."""
    keys, end = [], data.find(b'":')
    while end != -1:
        slashes = 0
        while data[end - 1 - slashes] == 0x5C:  # backslashes before the quote
            slashes += 1
        if slashes % 2 == 0:  # an unescaped quote: the end of a key
            if slashes:
                return None
            start = data.rfind(b'"', 0, end)
            if start < 1 or data[start - 1] not in b"{," or b"\\" in data[start + 1 : end]:
                return None
            keys.append(data[start + 1 : end].decode("utf-8", "replace"))
        end = data.find(b'":', end + 2)
    return keys


def _replace(match: re.Match) -> str:
    """URL credentials and query keys keep their names; a 40-character run is an AWS secret key only if it
    mixes lower case, upper case and digits (a git SHA or a plain word does not)."""
    if match.group("url"):
        return f"{match.group('url')}{REDACTED}@"
    if match.group("query"):
        return f"{match.group('query')}{REDACTED}"
    found = match.group(0)
    if match.group("b64") and not all(p.search(found) for p in _MIXED):
        return found
    return REDACTED


class RedactingFilter(logging.Filter):
    """Redacts a log record's message (with its arguments) before any handler sees it."""

    def __init__(self):
        super().__init__()
        self.redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left to logging's own error handling
            return True
        self.redactor.read_environment()  # a secret set after import (load_dotenv in a notebook) counts too
        cleaned = self.redactor.redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logs(logger: logging.Logger) -> logging.Logger:
    """Attach the redacting filter to one logger (filters do not pass to child loggers)."""
    logger.addFilter(RedactingFilter())
    return logger
