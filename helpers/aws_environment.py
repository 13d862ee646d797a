"""What the AWS environment offers, decided without touching the network: credentials, region, EC2 signs.

botocore's own credential providers do the work; the instance-metadata one only runs where there is a sign of EC2.
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import botocore.session
from botocore import exceptions as boto

from .errors import BackendError, setting

# Where a Linux guest says which machine it runs on: "Amazon EC2" on Nitro, "ec2..." UUIDs on Xen instances.
_DMI_FILES = ("/sys/devices/virtual/dmi/id/sys_vendor", "/sys/devices/virtual/dmi/id/bios_vendor",
              "/sys/devices/virtual/dmi/id/board_asset_tag", "/sys/hypervisor/uuid")
_METADATA_PROVIDER = "iam-role"  # botocore's InstanceMetadataProvider.METHOD


def on_ec2(environ=os.environ, dmi_files=_DMI_FILES) -> bool:
    """Whether the instance-metadata endpoint may exist here: an explicit endpoint or opt-in, or EC2 hardware."""
    if environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or environ.get("AWS_EXECUTION_ENV"):
        return True
    if environ.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() == "false":
        return True  # the user asks for the probe
    for name in dmi_files:
        try:
            text = Path(name).read_text(errors="replace").strip().lower()
        except OSError:
            continue
        if "amazon" in text or text.startswith(("ec2", "i-")):
            return True
    return False


def botocore_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session; a missing AWS_PROFILE or an unreadable AWS_CONFIG_FILE is one clear error."""
    session = botocore.session.Session(profile=profile)
    try:
        session.get_scoped_config()
    except boto.ProfileNotFound:
        name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        raise BackendError(
            f"AWS profile {name!r} (AWS_PROFILE) is not in {_config_file()}. Set AWS_PROFILE to one of its "
            f"profiles, unset it, or use {setting('backend', 'local')}.") from None
    except boto.ConfigParseError:
        raise BackendError(
            f"The AWS config file {_config_file()} (AWS_CONFIG_FILE) cannot be parsed. Fix or move it, "
            f"or use {setting('backend', 'local')}.") from None
    return session


def find_credentials(session: botocore.session.Session):
    """botocore's credentials, or None; the metadata endpoint is asked only where on_ec2() is true.

    Environment, config and credentials files, SSO, process and container (ECS, SageMaker Studio: the
    AWS_CONTAINER_CREDENTIALS_* variables) providers all run as botocore orders them.
    """
    resolver = session.get_component("credential_provider")
    if not on_ec2() and _METADATA_PROVIDER in (p.METHOD for p in resolver.providers):
        resolver.remove(_METADATA_PROVIDER)
    try:
        return session.get_credentials()
    except boto.ProfileNotFound:
        botocore_session(session.profile)  # raises the clear error
        raise


def region_of(session: botocore.session.Session, region: str | None = None) -> str | None:
    """The region: the argument, AWS_REGION, AWS_DEFAULT_REGION, then the profile's region."""
    return (region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or session.get_config_variable("region"))


def aws_boto_session(region: str | None = None, session: botocore.session.Session | None = None) -> boto3.Session:
    """A boto3 session for real AWS, with credentials and a region, or a one-line error naming what to set.

    session: a botocore session whose credentials were already found (they are not fetched again).
    """
    session = session or botocore_session()
    if find_credentials(session) is None:
        raise BackendError(
            "No AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, aws sso login, or "
            f"a role). Configure them, or use {setting('backend', 'local')}.")
    chosen = region_of(session, region)
    if not chosen:
        raise BackendError(f"No AWS region set. Set AWS_REGION (or AWS_DEFAULT_REGION), e.g. us-east-1, "
                           f"or use {setting('backend', 'local')}.")
    return boto3.Session(botocore_session=session, region_name=chosen)


def isolated_boto_session(region: str) -> boto3.Session:
    """A boto3 session that reads no profile, config or credentials file: for the local stand-in."""
    # (config name, environment variable, default, conversion): None for both, so AWS_PROFILE is not read
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    for variable in ("config_file", "credentials_file"):
        session.set_config_variable(variable, os.devnull)
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region,
                         botocore_session=session)


def _config_file() -> str:
    return os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
