"""Regenerates the ported SageMaker SDK integration tests in this folder from the SDK's repository (master-v2).

`python tests/sdk_integ/port_from_sdk.py /path/to/sagemaker-python-sdk` (a clone; `fetch github:aws/sagemaker-python-sdk`).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRANCH = "master-v2"
# SDK file -> file here
FILES = {
    "tests/integ/sagemaker/experiments/conftest.py": "sdk_fixtures.py",
    "tests/integ/sagemaker/experiments/helpers.py": "helpers.py",
    "tests/integ/sagemaker/experiments/test_experiment.py": "test_experiment.py",
    "tests/integ/sagemaker/experiments/test_metrics.py": "test_metrics.py",
    "tests/integ/sagemaker/experiments/test_run.py": "test_run.py",
    "tests/integ/sagemaker/experiments/test_trial.py": "test_trial.py",
    "tests/integ/sagemaker/experiments/test_trial_component.py": "test_trial_component.py",
    "tests/integ/test_experiments_analytics.py": "test_experiments_analytics.py",
}
# the SDK's own test modules -> what stands in for them here
TEST_MODULES = {
    "tests.integ.sagemaker.experiments.helpers": "sdk_integ.helpers",
    "tests.integ.sagemaker.experiments.conftest": "sdk_integ.sdk_fixtures",
    "tests.integ": "sdk_integ.integ",
    "tests.conftest": "sdk_integ.integ",
    "tests": "sdk_integ",
}
HEADER = '''# Ported mechanically from aws/sagemaker-python-sdk {branch}:{source} (commit {commit}), Apache-2.0.
# Changes, all made by tests/sdk_integ/port_from_sdk.py:
#  - every `from sagemaker... import a, b` became `a, b = sdk_import("sagemaker...", "a", "b")`, which resolves
#    the v2 name on SDK v2 and its sagemaker.core twin on SDK v3 (names outside Experiments, such as
#    estimators and processors, become placeholders: only out-of-scope tests, skipped in conftest.py, use them);
#  - imports of the SDK's own test helpers point at sdk_integ (helpers, sdk_fixtures, integ);
#  - nothing else: fixtures come from conftest.py (sagemaker_session = open_session(mode="local")),
#    which also shortens time.sleep and skips the tests that need training/processing/transform jobs.
'''


def _rewrite(source: str) -> str:
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        module = node.module
        indent = " " * node.col_offset
        if module in TEST_MODULES or module.startswith("tests."):
            target = TEST_MODULES.get(module, module.replace("tests.integ.sagemaker.experiments", "sdk_integ"))
            names = ", ".join(a.name if not a.asname else f"{a.name} as {a.asname}" for a in node.names)
            text = f"{indent}from {target} import {names}\n"
        elif module == "sagemaker" or module.startswith(("sagemaker.", "src.sagemaker")):
            module = module.removeprefix("src.")
            targets = ", ".join(a.asname or a.name for a in node.names)
            names = ", ".join(f'"{a.name}"' for a in node.names)
            text = f"{indent}{targets}{',' if len(node.names) == 1 else ''} = sdk_import(\"{module}\", {names})\n"
        else:
            continue
        edits.append((node.lineno - 1, node.end_lineno, text))
    for start, end, text in reversed(edits):
        lines[start:end] = [text]
    out = "".join(lines)
    if edits and "sdk_import" in out:
        future = "from __future__ import absolute_import\n"
        shim = "from sdk_integ.sdk import sdk_import\n"
        out = out.replace(future, future + "\n" + shim, 1) if future in out else shim + out
    return out


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", BRANCH], capture_output=True, text=True,
                            check=True).stdout.strip()
    for source, target in FILES.items():
        text = subprocess.run(["git", "-C", repo, "show", f"{BRANCH}:{source}"], capture_output=True, text=True,
                              check=True).stdout
        header = HEADER.format(branch=BRANCH, source=source, commit=commit[:12])
        (HERE / target).write_text(header + _rewrite(text))
        print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/aws+sagemaker-python-sdk/repo")
