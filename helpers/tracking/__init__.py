"""Track LangChain runs in SageMaker Experiments: one callback handler; each run's trace is a prefix of segments.

After a crash, send what a killed process left in its spool (run it once, in any process):
    from helpers.tracking import upload_pending_spools; upload_pending_spools(session)
"""

from __future__ import annotations

from .handler import ARTIFACT_NAME, SageMakerCallbackHandler
from .recovery import upload_pending_spools
from .spans import SCHEMA_VERSION
from .store import SEGMENTS_MEDIA_TYPE, ExperimentsStore, TraceStore

__all__ = ["ARTIFACT_NAME", "SCHEMA_VERSION", "SEGMENTS_MEDIA_TYPE", "ExperimentsStore", "SageMakerCallbackHandler",
           "TraceStore", "upload_pending_spools"]
