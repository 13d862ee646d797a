#!/bin/bash
# Runs in the notebook job's container before notebook 05: installs the pinned project from the uploaded files.
set -euo pipefail
pip install --quiet -r requirements.txt
pip install --quiet --no-deps -e .
