"""No secret reaches anything the project writes: 27 secret formats x 13 placements, plus the run's failure
message (378 combinations), checked in the trace, the spool, every file of the store, the run's parameters
and status, and the logs; and the warning of a failed upload whose error holds a secret."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from test_tracking_unit import FakeRun

from helpers.analysis.traces import read_trace_text
from helpers.experiments import Run
from helpers.tracking import SageMakerCallbackHandler

BEDROCK_ENV_VALUE = "bedrock-api-key-Zq8rT2vLx9Wm"  # only known from AWS_BEARER_TOKEN_BEDROCK, no shape
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "-----END RSA PRIVATE KEY-----")
SECRETS = {  # name: the secret as it appears
    "github_classic": "ghp_" + "A1b2C3d4E5f6G7h8I9j0" + "K1l2M3n4O5p6Q7r8",
    "github_oauth": "gho_" + "Z9y8X7w6V5u4T3s2R1q0" + "P9o8N7m6L5k4J3i2",
    "github_fine_grained": "github_pat_11ABCDEFG0" + "aBcDeFgHiJkLmNoPqRsTuV_" + "wXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
    "hugging_face": "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
           "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "slack_bot": "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx",
    "slack_user": "xoxp-" + "123456789012-1234567890123-1234567890123-" + "0123456789abcdef0123456789abcdef",
    "google_api": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "stripe_secret": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "stripe_restricted": "rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "langsmith_pat": "lsv2_pt_" + "0123456789abcdef0123456789abcdef_0123456789",
    "langsmith_service": "lsv2_sk_" + "fedcba9876543210fedcba9876543210_9876543210",
    "azure_openai": "3f2a" + "9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b"[:28],
    "pem_private_key": PEM,
    "bedrock_api_key": "ABSK" + "QmVkcm9ja0FQSUtleS1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2",
    "bedrock_env_value": BEDROCK_ENV_VALUE,
    "aws_access_key_id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_secret_key": "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY",
    "openai_project": "sk-proj-" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7",
    "anthropic": "sk-ant-api03-" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7",
    "serpapi": "0123456789abcdef" * 4,
    "gitlab": "glpat-" + "xYz12AbC34dEf56GhI78",
    "sendgrid": "SG." + "aBcDeFgHiJkLmNoPqRsTuV" + "." + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789aBcDeFg",
    "twilio": "SK" + "0123456789abcdef0123456789abcdef",
    "telegram": "123456789:" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX",
    "pypi": "pypi-AgEIcHlwaS5vcmc" + "CJGE0ZjhiZmI1LWEzNWItNGE4NS05ZmEzLTI3NjE1MTU1Nzc1OQACKlsz" + "abcdefghijklmnopqrstuvwxyz",
    "bearer_opaque": "opaqueBearerToken" + "9f8e7d6c5b4a",  # placed as "Bearer <token>"
}


def needles(secret: str) -> list[str]:
    """The parts that must not appear anywhere (a PEM's body line, not its public header)."""
    return [line for line in secret.splitlines() if "-----" not in line] or [secret]


class SecretLLM(FakeListLLM):
    """A model whose name and endpoint hold a secret: they become invocation params and run parameters."""

    model_name: str = "m"
    endpoint: str = "e"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {"model_name": self.model_name, "endpoint": self.endpoint}


@tool
def lookup(query: str) -> str:
    """Looks something up."""
    return "found"


def shown(secret: str, name: str) -> str:
    return f"Bearer {secret}" if name == "bearer_opaque" else secret


PLACEMENTS = {
    "inputs": lambda s, cb: RunnableLambda(lambda x: "ok").invoke({"question": f"use {s} please"}, config=cb),
    "outputs": lambda s, cb: RunnableLambda(lambda x: f"the key is {s}").invoke("q", config=cb),
    "metadata": lambda s, cb: RunnableLambda(lambda x: x).invoke("q", config={**cb, "metadata": {"note": s}}),
    "tags": lambda s, cb: RunnableLambda(lambda x: x).invoke("q", config={**cb, "tags": [f"tag {s}"]}),
    "dict_keys": lambda s, cb: RunnableLambda(lambda x: 1).invoke({f"k {s}": 1, s: 2}, config=cb),
    "bytes": lambda s, cb: RunnableLambda(lambda x: x).invoke({"blob": f"raw {s}\n".encode()}, config=cb),
    "tool_args": lambda s, cb: lookup.invoke({"query": f"find {s}"}, config=cb),
    "exceptions": lambda s, cb: _raises(s, cb),
    "invocation_params": lambda s, cb: SecretLLM(responses=["x"], endpoint=f"https://x/{s}").invoke("q", config=cb),
    "headers": lambda s, cb: RunnableLambda(lambda x: x).invoke({"headers": {"X-Custom": s, "Authorization": s}},
                                                                 config=cb),
    "url_credentials": lambda s, cb: RunnableLambda(lambda x: x).invoke(f"https://user:{s}@example.com/p", config=cb),
    "url_query": lambda s, cb: RunnableLambda(lambda x: x).invoke(f"https://example.com/p?api_key={s}&x=1", config=cb),
    "model_name": lambda s, cb: SecretLLM(responses=["x"], model_name=s).invoke("q", config=cb),
}


def _raises(secret, cb):
    def fail(x):
        raise ValueError(f"the call with {secret} failed")

    with pytest.raises(ValueError):
        RunnableLambda(fail).invoke("q", config=cb)


def leaks_in(written: list[bytes]) -> list[str]:
    everything = b"\n".join(written)
    assert b"[REDACTED]" in everything  # the secrets were there, and were replaced
    return [name for name, secret in SECRETS.items() for needle in needles(secret) if needle.encode() in everything]


def store_files(local_dir, spool_dir) -> list[bytes]:
    """Every file of the store (objects, database) and of the spool folder."""
    return [p.read_bytes() for folder in (local_dir, spool_dir) if folder.exists() for p in folder.rglob("*")
            if p.is_file()]


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_no_secret_leaks_anywhere(placement, local_session, local_dir, spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEDROCK_ENV_VALUE)
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")  # warnings are logged (and checked), not raised
    run_name = placement.replace("_", "-")
    with caplog.at_level(logging.INFO):  # every line the project logs (botocore's DEBUG dumps are its own)
        with Run(experiment_name="secrets", run_name=run_name, sagemaker_session=local_session) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            for name, secret in SECRETS.items():
                PLACEMENTS[placement](shown(secret, name), {"callbacks": [handler]})
            handler.spool.flush()
            written = store_files(local_dir, spool_dir)  # the spool, before the run removes it
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName=f"secrets-{run_name}")
    written += [repr(tc).encode(), read_trace_text(local_session.boto_session.client("s3"), tc).encode(),
                *store_files(local_dir, spool_dir), caplog.text.encode()]
    assert leaks_in(written) == []


def test_no_secret_leaks_from_the_failure_message_of_a_run(local_session, local_dir, spool_dir, monkeypatch, caplog):
    """The SDK writes str(exception) into the run's status when `with Run` raises: one run per secret."""
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEDROCK_ENV_VALUE)
    written = []
    with caplog.at_level(logging.INFO):
        for index, (name, secret) in enumerate(SECRETS.items()):
            with pytest.raises(RuntimeError), Run(experiment_name="secrets", run_name=f"status-{index}",
                                                  sagemaker_session=local_session) as run:
                handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
                RunnableLambda(lambda x: x).invoke("q", config={"callbacks": [handler]})
                raise RuntimeError(f"the notebook cell failed: {shown(secret, name)}")
            tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName=f"secrets-status-{index}")
            assert tc["Status"]["PrimaryStatus"] == "Failed"
            written.append(repr(tc).encode())
    written += [*store_files(local_dir, spool_dir), caplog.text.encode()]
    assert leaks_in(written) == []


class LeakyStore(FakeRun):
    """A trace store whose every upload fails with an error message holding a secret (a URL with credentials)."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def put_segment(self, name, body):
        secret = self.secret
        raise ConnectionError(f"cannot reach https://user:{secret}@s3.example.com/?token={secret} with {secret}")


def warnings_of_failed_uploads(secrets: dict, spool_dir) -> None:
    for name, secret in secrets.items():
        store = LeakyStore(shown(secret, name))
        handler = SageMakerCallbackHandler(store, store=store, spool_dir=spool_dir)
        RunnableLambda(lambda x: x).invoke("q", config={"callbacks": [handler]})
        handler.flush_tracker()


def test_no_secret_leaks_from_a_warning_about_a_failed_upload(spool_dir, monkeypatch, caplog):
    """A store error whose message holds a secret: the warning that names it is redacted (27 formats)."""
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    shaped = {k: v for k, v in SECRETS.items() if k != "bedrock_env_value"}  # found by their shape
    with caplog.at_level(logging.INFO):
        warnings_of_failed_uploads(shaped, spool_dir)
    assert caplog.text.count("uploading the trace failed") == len(shaped)  # each warned, once
    assert leaks_in([caplog.text.encode()]) == []


def test_no_secret_set_after_import_leaks_from_a_warning(spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEDROCK_ENV_VALUE)  # set after helpers.tracking was imported
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    with caplog.at_level(logging.INFO):
        warnings_of_failed_uploads({"bedrock_env_value": BEDROCK_ENV_VALUE}, spool_dir)
    assert "uploading the trace failed" in caplog.text
    assert leaks_in([caplog.text.encode()]) == []
