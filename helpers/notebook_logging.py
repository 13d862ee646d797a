"""Log lines in a notebook: INFO and up as plain output text, the SageMaker SDK's own chatter at WARNING.

Lines go to stdout, so Jupyter and the HTML export show them as text, not as pink stderr boxes.
"""

from __future__ import annotations

import logging
import sys

_QUIET = ("sagemaker", "sagemaker.config", "botocore", "urllib3", "httpx")


def log_to_notebook(level: int = logging.INFO) -> None:
    """Show helpers' log lines as the cell's plain output; call once, in the notebook's imports cell."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]  # any earlier handler would print each line again, to stderr
    root.setLevel(level)
    for name in _QUIET:  # the SDK sets sagemaker.config to INFO itself
        logging.getLogger(name).setLevel(logging.WARNING)
