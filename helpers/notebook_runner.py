"""Runs the notebooks headless with papermill: executed copies in build/, HTML renderings in build/html/.

python -m helpers.notebook_runner --llm auto --backend auto --experiment NAME [--sweep 0.0 0.5 ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCENARIOS = ["01_single_llm", "02_sequential_chain", "03_agent_with_tools", "04_compare_runs"]


def sweep_run_name(temperature: float) -> str:
    """SageMaker run names allow letters, digits and hyphens only: 0.5 -> sweep-temp-0-5."""
    return "sweep-temp-" + f"{temperature:g}".replace(".", "-")


def execute(name: str, parameters: dict, output_dir: Path, progress: bool = True) -> Path:
    import papermill
    from traitlets.config import Config

    source = NOTEBOOKS / f"{name}.ipynb"
    suffix = f"-{parameters['run_name']}" if name == "01_single_llm" and "sweep" in parameters.get("run_name", "") else ""
    target = output_dir / f"{name}{suffix}.ipynb"
    papermill.execute_notebook(
        str(source), str(target), parameters=parameters, cwd=str(NOTEBOOKS),
        kernel_name="python3", progress_bar=progress, log_output=False,
        config=Config(KernelManager={"transport": "ipc"}),  # Unix sockets: no TCP port, not even on loopback
    )
    return target


def render_html(executed: Path, html_dir: Path) -> Path:
    from nbconvert import HTMLExporter

    html_dir.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_filename(str(executed))
    target = html_dir / f"{executed.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target


def plan(args) -> list[tuple[str, dict]]:
    common = {"experiment_name": args.experiment, "backend": args.backend, "local_dir": args.local_dir}
    if args.bucket:
        common["bucket"] = args.bucket
    if args.tracker != "experiments":
        common["tracker"] = args.tracker
    if args.tracking_uri:
        common["tracking_uri"] = args.tracking_uri
    if args.sweep:
        return [("01_single_llm", {**common, "llm_provider": args.llm, "temperature": t, "run_name": sweep_run_name(t)})
                for t in args.sweep]
    chosen = [n for n in SCENARIOS if not args.only or any(n.startswith(o) for o in args.only)]
    return [(n, common if n.startswith("04") else {**common, "llm_provider": args.llm}) for n in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default="auto", choices=["auto", "offline", "openai", "bedrock"])
    parser.add_argument("--backend", default="auto", choices=["auto", "local", "aws"])
    parser.add_argument("--experiment", default="langchain-sagemaker-tracker")
    parser.add_argument("--sweep", nargs="+", type=float, metavar="TEMPERATURE", help="run notebook 01 once per temperature")
    parser.add_argument("--only", nargs="+", metavar="PREFIX", help="run only these notebooks, e.g. 01 03")
    parser.add_argument("--output-dir", default=str(ROOT / "build"))
    parser.add_argument("--local-dir", default=os.environ.get("SAGEMAKER_LOCAL_DIR") or str(ROOT / ".sagemaker-local"))
    parser.add_argument("--bucket", help="S3 bucket for the traces (default: the SDK's sagemaker-<region>-<account>)")
    parser.add_argument("--tracker", default=os.environ.get("TRACKER") or "experiments", choices=["experiments", "mlflow"])
    parser.add_argument("--tracking-uri", help="MLflow tracking URI or MLflow App ARN (tracker mlflow; default .mlflow/)")
    parser.add_argument("--no-html", action="store_true")
    args = parser.parse_args(argv)
    # Kernels inherit this: spools go to the repository's .trace-spool, where upload_pending_spools looks.
    os.environ.setdefault("SAGEMAKER_TRACE_SPOOL_DIR", str(ROOT / ".trace-spool"))
    output_dir = Path(args.output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    jobs = plan(args)
    for index, (name, parameters) in enumerate(jobs, 1):
        label = f"[{index}/{len(jobs)}] {name}" + (f" ({parameters['run_name']})" if "run_name" in parameters else "")
        print(f"{label} ...", flush=True)
        started = time.monotonic()
        try:
            executed = execute(name, parameters, output_dir, progress=sys.stderr.isatty())
        except Exception as error:
            print(f"{label} FAILED: {type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}",
                  file=sys.stderr)
            print(f"The partly executed notebook is in {output_dir}.", file=sys.stderr)
            return 1
        if not args.no_html:
            render_html(executed, output_dir / "html")
        print(f"{label} done in {time.monotonic() - started:.1f} s -> {executed.relative_to(output_dir.parent) if executed.is_relative_to(output_dir.parent) else executed}", flush=True)
    print(f"Executed notebooks in {output_dir}, HTML in {output_dir / 'html'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
