# Ported mechanically from aws/sagemaker-python-sdk master-v2:tests/integ/sagemaker/experiments/test_metrics.py (commit fc582aaa46fa), Apache-2.0.
# Changes, all made by tests/sdk_integ/port_from_sdk.py:
#  - every `from sagemaker... import a, b` became `a, b = sdk_import("sagemaker...", "a", "b")`, which resolves
#    the v2 name on SDK v2 and its sagemaker.core twin on SDK v3 (names outside Experiments, such as
#    estimators and processors, become placeholders: only out-of-scope tests, skipped in conftest.py, use them);
#  - imports of the SDK's own test helpers point at sdk_integ (helpers, sdk_fixtures, integ);
#  - nothing else: fixtures come from conftest.py (sagemaker_session = open_session(mode="local")),
#    which also shortens time.sleep and skips the tests that need training/processing/transform jobs.
# Copyright Amazon.com, Inc. or its affiliates. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License"). You
# may not use this file except in compliance with the License. A copy of
# the License is located at
#
#     http://aws.amazon.com/apache2.0/
#
# or in the "license" file accompanying this file. This file is
# distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF
# ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
from __future__ import absolute_import

from sdk_integ.sdk import sdk_import
import random
_MetricsManager, = sdk_import("sagemaker.experiments._metrics", "_MetricsManager")
_TrialComponent, = sdk_import("sagemaker.experiments.trial_component", "_TrialComponent")
retry_with_backoff, = sdk_import("sagemaker.utils", "retry_with_backoff")


def test_end_to_end(trial_component_obj, sagemaker_session):
    # The fixture creates deletes, just ensure fixture is used at least once
    with _MetricsManager(trial_component_obj.trial_component_name, sagemaker_session) as mm:
        for i in range(100):
            mm.log_metric("test-x-step", random.random(), step=i)
            mm.log_metric("test-x-timestamp", random.random())

    def verify_metrics():
        updated_tc = _TrialComponent.load(
            trial_component_name=trial_component_obj.trial_component_name,
            sagemaker_session=sagemaker_session,
        )
        metrics = updated_tc.metrics
        assert len(metrics) == 2
        assert list(filter(lambda x: x.metric_name == "test-x-step", metrics))
        assert list(filter(lambda x: x.metric_name == "test-x-timestamp", metrics))

    # metrics -> eureka propagation
    retry_with_backoff(verify_metrics)
