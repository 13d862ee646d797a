"""explain_errors: a wrong key, a missing key or an unreachable service becomes one short, secret-free message."""

from __future__ import annotations

import socket

import pytest
from loopback_servers import openai_server

from helpers.errors import ProviderError, describe, explain_errors, safe_url, scrub_secrets
from helpers.providers import make_model

SECRET = "sk-test-" + "s" * 40


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket closes


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """A region and no ambient AWS configuration, so tests decide what credentials exist."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def explained(call) -> ProviderError:
    with pytest.raises(ProviderError) as raised, explain_errors():
        call()
    error = raised.value
    # Short: no chained traceback under it, and IPython shows a single line.
    assert error.__cause__ is None and error.__suppress_context__ is True
    assert error._render_traceback_() == [f"ProviderError: {error}"]
    return error


def test_a_rejected_openai_key_names_the_variable_not_the_value(monkeypatch):
    with openai_server(status=401) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        error = explained(lambda: make_model("openai", max_retries=0).invoke("hi"))
    assert str(error) == (f"OPENAI_API_KEY was rejected by the server at {server.base_url} (HTTP 401). "
                          "Export a valid key, or use llm_provider='offline'.")
    assert SECRET not in str(error)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # the real client really asked


@pytest.mark.parametrize("status, says", [
    (403, "refused this key access (HTTP 403)"),
    (404, "does not serve this model (HTTP 404). Set model_name"),
    (429, "rate limiting this key or it has no quota left (HTTP 429)"),
])
def test_other_openai_refusals(monkeypatch, status, says):
    with openai_server(status=status) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        error = explained(lambda: make_model("openai", kind="completion", max_retries=0).invoke("hi"))
    assert says in str(error) and server.base_url in str(error)


def test_an_unreachable_openai_server_names_it_and_openai_base_url(monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    error = explained(lambda: make_model("openai", max_retries=0, timeout=5).invoke("hi"))
    assert str(error).startswith(f"Could not reach the OpenAI-compatible server at {url} (OPENAI_BASE_URL sets it).")


def test_a_missing_openai_key_in_a_hand_built_client(monkeypatch):
    from langchain_openai import ChatOpenAI

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    error = explained(lambda: ChatOpenAI(model="gpt-4o-mini"))
    assert str(error) == "OPENAI_API_KEY is not set. Export it, or use llm_provider='offline'."


def test_a_secret_in_a_url_is_not_repeated(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:hunter22@127.0.0.1:{closed_port()}/v1?token=abc")
    error = explained(lambda: make_model("openai", max_retries=0, timeout=5).invoke("hi"))
    assert "hunter22" not in str(error) and "token=abc" not in str(error) and "127.0.0.1" in str(error)


def test_bedrock_without_credentials(aws_env, no_network):
    model = make_model("bedrock")
    error = explained(lambda: model.invoke("hi"))
    assert str(error).startswith("No AWS credentials were found for Bedrock.")
    assert no_network == []  # it failed before any connection


@pytest.mark.parametrize("code, status, says", [
    ("AccessDeniedException", 403, "Bedrock denied access (AccessDeniedException). Allow bedrock:InvokeModel"),
    ("UnrecognizedClientException", 403, "AWS rejected the credentials (UnrecognizedClientException)"),
    ("ExpiredTokenException", 403, "AWS rejected the credentials (ExpiredTokenException)"),
    ("ResourceNotFoundException", 404, "Bedrock does not offer this model in this region"),
])
def test_bedrock_refusals_through_a_stub(aws_env, code, status, says):
    from botocore.stub import Stubber

    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTEST")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "secret-" + "a" * 30)
    model = make_model("bedrock")
    with Stubber(model.client) as stub:
        stub.add_client_error("converse", service_error_code=code, service_message="nope", http_status_code=status)
        error = explained(lambda: model.invoke("hi"))
    assert says in str(error)
    assert "secret-" not in str(error) and "AKIATESTTESTTEST" not in str(error)


def test_an_unreachable_bedrock_endpoint(aws_env):
    from botocore.config import Config

    aws_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    model = make_model("bedrock", endpoint_url=endpoint,
                       config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2))
    error = explained(lambda: model.invoke("hi"))
    assert str(error).startswith(f"Could not reach the AWS Bedrock endpoint {endpoint}/model/")
    assert "AWS_REGION" in str(error)


def test_serpapi_unreachable_when_called_directly():
    from serpapi import GoogleSearch

    client = GoogleSearch({"q": "x", "api_key": "k" * 20})
    client.BACKEND = f"http://127.0.0.1:{closed_port()}"
    error = explained(client.get_dict)
    assert "Could not reach SerpAPI" in str(error) and "SERPAPI_API_KEY" in str(error)


def test_unknown_errors_pass_through_unchanged():
    with pytest.raises(KeyError, match="x"), explain_errors():
        raise KeyError("x")
    assert describe(ValueError("nothing to do with providers")) is None


def test_a_wrapped_provider_error_is_still_recognised():
    import openai

    def wrapped():
        try:
            raise openai.APIConnectionError(request=None)
        except openai.APIConnectionError as inner:
            raise RuntimeError("a chain failed") from inner

    assert "Could not reach the OpenAI-compatible server" in str(explained(wrapped))


def test_secret_values_are_masked_in_any_provider_error(monkeypatch):
    monkeypatch.setenv("SERPAPI_API_KEY", "serp-" + "z" * 30)
    error = ProviderError("key serp-" + "z" * 30 + " rejected")
    assert str(error) == "key **** rejected"
    assert scrub_secrets("token abcd-1234", extra=["abcd-1234"]) == "token ****"
    assert safe_url("https://u:p@host:8443/v1?key=1") == "https://host:8443/v1"


def test_the_run_is_recorded_failed_with_the_short_message(monkeypatch, local_session):
    from helpers.experiments import Run

    with openai_server(status=401) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        with pytest.raises(ProviderError), Run(experiment_name="errors-exp", run_name="bad-key",
                                                sagemaker_session=local_session), explain_errors():
            make_model("openai", kind="completion", max_retries=0).invoke("tell me a joke about fish")
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="errors-exp-bad-key")
    assert tc["Status"]["PrimaryStatus"] == "Failed"
    assert tc["Status"]["Message"].startswith("OPENAI_API_KEY was rejected") and SECRET not in tc["Status"]["Message"]


def test_ipython_shows_one_line(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    try:
        with capture_output() as captured:
            shell.run_cell("from helpers.errors import ProviderError\n"
                           "def deep():\n    raise ProviderError('OPENAI_API_KEY is not set.')\n"
                           "deep()")
    finally:
        InteractiveShell.clear_instance()
    shown = (captured.stdout + captured.stderr).strip()
    assert shown.endswith("ProviderError: OPENAI_API_KEY is not set.")
    assert "Traceback" not in shown and "deep()" not in shown


def test_a_rejected_serpapi_key_stops_the_agent_with_one_message(monkeypatch):
    """The tool's error is not fed back to the model as an observation: the run stops and says why."""
    from langchain.agents import create_agent
    from loopback_servers import INVALID_KEY_RESULTS, serpapi_server

    from helpers.offline_model import OfflineChatModel
    from helpers.tools import make_tools

    serp_key = "serp-" + "q" * 30
    with serpapi_server(results=INVALID_KEY_RESULTS, status=401) as server:
        monkeypatch.setenv("SERPAPI_API_KEY", serp_key)
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        agent = create_agent(OfflineChatModel(), make_tools())
        error = explained(lambda: agent.invoke({"messages": [("user", "Who is the oldest person alive?")]}))
    assert str(error).startswith("SERPAPI_API_KEY was rejected by SerpAPI") and serp_key not in str(error)
    assert server.requests[0].query["q"] == ["Who is the oldest person alive"]
