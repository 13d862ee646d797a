"""make sweep: python -m helpers.sweeps [GRID_FILE] [--set name=v1,v2 ...] [--workers N] [--aws]

Locally, grid points run in parallel worker processes; with --aws the grid becomes a SageMaker Pipeline.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid_file", nargs="?", help="YAML or TOML grid file (default: sweeps/default.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2", help="grid values, e.g. temperature=0,0.5")
    parser.add_argument("--experiment", help="experiment name (default: the grid file's)")
    parser.add_argument("--workers", type=int, help="worker processes (default: WORKERS or one per core)")
    parser.add_argument("--backend", default="local", choices=["auto", "local", "aws"])
    parser.add_argument("--local-dir", default=os.environ.get("SAGEMAKER_LOCAL_DIR") or str(ROOT / ".sagemaker-local"))
    parser.add_argument("--aws", action="store_true", help="build, upsert and start a SageMaker Pipeline instead")
    parser.add_argument("--role", default=os.environ.get("SAGEMAKER_ROLE_ARN"), help="execution role ARN (--aws)")
    parser.add_argument("--image-uri", default=os.environ.get("SAGEMAKER_IMAGE_URI"), help="notebook job image (--aws)")
    parser.add_argument("--instance-type", default="ml.m5.large")
    args = parser.parse_args(argv)

    from .grid import GridError, load_sweep

    grid_file = args.grid_file or (None if args.set else str(ROOT / "sweeps" / "default.yaml"))
    try:
        sweep = load_sweep(grid_file, args.set, args.experiment)
    except GridError as error:
        print(f"sweep: {error}", file=sys.stderr)
        return 2
    if args.aws:
        from ..experiments import open_session
        from .pipeline import start, to_pipeline, upsert

        if not args.role or not args.image_uri:
            print("sweep --aws needs --role (or SAGEMAKER_ROLE_ARN) and --image-uri (or SAGEMAKER_IMAGE_URI).",
                  file=sys.stderr)
            return 2
        session = open_session("aws")
        pipeline = to_pipeline(sweep, role=args.role, image_uri=args.image_uri, sagemaker_session=session,
                               instance_type=args.instance_type)
        upsert(pipeline, args.role)
        start(pipeline)
        return 0
    os.environ.setdefault("SAGEMAKER_TRACE_SPOOL_DIR", str(ROOT / ".trace-spool"))
    os.environ.setdefault("SAGEMAKER_EVAL_SPOOL_DIR", str(ROOT / ".eval-spool"))
    from .local import run_sweep

    try:
        summary = run_sweep(sweep, workers=args.workers, backend=args.backend, local_dir=args.local_dir)
    except ValueError as error:
        print(f"sweep: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
