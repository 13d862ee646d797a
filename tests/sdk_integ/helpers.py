# Ported mechanically from aws/sagemaker-python-sdk master-v2:tests/integ/sagemaker/experiments/helpers.py (commit fc582aaa46fa), Apache-2.0.
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

from contextlib import contextmanager
import pytest
import logging

utils, = sdk_import("sagemaker", "utils")
Experiment, = sdk_import("sagemaker.experiments.experiment", "Experiment")
_RunContext, = sdk_import("sagemaker.experiments._run_context", "_RunContext")

EXP_INTEG_TEST_NAME_PREFIX = "experiments-integ"


def name():
    return utils.unique_name_from_base(EXP_INTEG_TEST_NAME_PREFIX)


def names():
    return [utils.unique_name_from_base(EXP_INTEG_TEST_NAME_PREFIX) for i in range(3)]


def to_seconds(dt):
    return int(dt.timestamp())


@contextmanager
def cleanup_exp_resources(exp_names, sagemaker_session):
    try:
        yield
    finally:
        for exp_name in exp_names:
            exp = Experiment.load(experiment_name=exp_name, sagemaker_session=sagemaker_session)
            exp._delete_all(action="--force")


@pytest.fixture
def clear_run_context():
    current_run = _RunContext.get_current_run()
    if current_run is None:
        return

    logging.info(
        f"RunContext already populated by run {current_run.run_name}"
        f" in experiment {current_run.experiment_name}."
        " Clearing context manually"
    )
    _RunContext.drop_current_run()
