"""What the SDK's tests/integ and tests/conftest modules give the ported tests, for the local stand-in.

The region and the session's default S3 prefix are the ones the SDK's own conftest uses.
"""

from pathlib import Path

DATA_DIR = str(Path(__file__).resolve().parent / "data")  # the SDK's job scripts: only skipped tests read it
CUSTOM_S3_OBJECT_KEY_PREFIX = "session-default-prefix"


def test_region() -> str:
    return "us-east-1"


test_region.__test__ = False  # a helper named like a test, as in the SDK
