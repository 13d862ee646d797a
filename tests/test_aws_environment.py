"""How "auto" decides between AWS and the stand-in without the network, and the one-line backend errors."""

from __future__ import annotations

import datetime
import json

import pytest
from loopback_servers import Reply, serve

from helpers import experiments
from helpers.aws_environment import botocore_session, find_credentials, on_ec2
from helpers.errors import BackendError

_AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                  "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED",
                  "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EXECUTION_ENV", "SAGEMAKER_BACKEND",
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


@pytest.fixture
def newcomer(tmp_path, monkeypatch):
    """No AWS variables, no config or credentials file."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


def test_ec2_is_recognised_by_its_hardware_or_an_explicit_endpoint(tmp_path):
    vendor = tmp_path / "sys_vendor"
    vendor.write_text("Amazon EC2\n")
    assert on_ec2({}, [str(vendor)])
    vendor.write_text("QEMU\n")
    assert not on_ec2({}, [str(vendor), str(tmp_path / "missing")])
    assert on_ec2({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[fd00:ec2::254]"}, [])
    assert on_ec2({"AWS_EC2_METADATA_DISABLED": "false"}, [])
    assert not on_ec2({"AWS_EC2_METADATA_DISABLED": "true"}, [])


def test_auto_off_ec2_picks_the_stand_in_without_asking_the_metadata_endpoint(newcomer, no_network, monkeypatch):
    monkeypatch.setattr("helpers.aws_environment.on_ec2", lambda: False)
    session = experiments.open_session("auto", local_dir=newcomer / "state")
    assert experiments.local_backend(session) is not None
    assert no_network == []


def test_auto_on_ec2_still_asks_the_metadata_endpoint(newcomer, no_network, monkeypatch):
    monkeypatch.setattr("helpers.aws_environment.on_ec2", lambda: True)
    assert find_credentials(botocore_session()) is None
    assert any("169.254.169.254" in str(address) for address in no_network)


def test_container_credentials_as_in_studio_make_auto_pick_aws(newcomer, monkeypatch):
    """Studio and ECS give the role's credentials through AWS_CONTAINER_CREDENTIALS_*; botocore reads them."""
    expiry = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    creds = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE00", "SecretAccessKey": "not-a-secret", "Token": "t", "Expiration": expiry}
    with serve(lambda request: Reply(body=creds)) as server:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{server.base_url}/role")
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        session = experiments.open_session("auto")
    assert experiments.local_backend(session) is None and session.boto_region_name == "eu-west-1"
    assert session.boto_session.get_credentials().access_key == creds["AccessKeyId"]
    assert [r.path for r in server.requests] == ["/role"]


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_is_enough_for_aws(newcomer, monkeypatch, variable):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv(variable, "ap-south-1")
    assert experiments.open_session("aws").boto_region_name == "ap-south-1"


def test_aws_without_a_region_or_credentials_says_which_variable_to_set(newcomer, monkeypatch):
    with pytest.raises(BackendError, match="No AWS credentials found.*backend='local'"):
        experiments.open_session("aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("NOTEBOOK_HINTS", "make")  # what make run-notebooks sets: hints in make's spelling
    with pytest.raises(BackendError, match=r"Set AWS_REGION \(or AWS_DEFAULT_REGION\).*BACKEND=local") as raised:
        experiments.open_session("aws")
    assert raised.value._render_traceback_() == [f"BackendError: {raised.value}"]  # one line in a notebook
    assert "\n" not in str(raised.value)


def test_a_bad_profile_or_config_file_does_not_stop_the_local_stand_in(newcomer, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    session = experiments.open_session("local", local_dir=newcomer / "state")
    assert session.sagemaker_client.list_experiments()["ExperimentSummaries"] == []
    with pytest.raises(BackendError, match="'no-such-profile' \\(AWS_PROFILE\\)"):
        experiments.open_session("auto", local_dir=newcomer / "state")
    monkeypatch.delenv("AWS_PROFILE")
    (newcomer / "config").write_text("[default\nregion = us-east-1\n")
    session = experiments.open_session("local", local_dir=newcomer / "state")
    assert json.dumps(session.sagemaker_client.list_experiments()["ExperimentSummaries"]) == "[]"
    with pytest.raises(BackendError, match="cannot be parsed"):
        experiments.open_session("auto", local_dir=newcomer / "state")
