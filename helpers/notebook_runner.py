"""Runs the notebooks headless with papermill: executed copies in build/, HTML renderings in build/html/.

python -m helpers.notebook_runner --llm auto --backend auto --experiment NAME [--model ID] [--only 04] [--sweep 0.0 0.5 ...]

A notebook that fails is written next to the last good copy, as NAME.failed.ipynb (and .html), never over it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from .errors import ProviderError, setting

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCENARIOS = ["01_single_llm", "02_sequential_chain", "03_agent_with_tools", "04_compare_runs", "05_evaluate_variants"]


def sweep_run_name(temperature: float) -> str:
    """SageMaker run names allow letters, digits and hyphens only: 0.5 -> sweep-temp-0-5."""
    return "sweep-temp-" + f"{temperature:g}".replace(".", "-")


def output_name(name: str, parameters: dict) -> str:
    """The executed copy's file stem: the notebook's name, plus the run name for sweep runs."""
    run_name = parameters.get("run_name", "")
    return f"{name}-{run_name}" if name == "01_single_llm" and "sweep" in run_name else name


def execute(name: str, parameters: dict, output_dir: Path, progress: bool = True) -> Path:
    """Run one notebook into output_dir/<stem>.ipynb; if it fails, into <stem>.failed.ipynb (then re-raise)."""
    import papermill
    from traitlets.config import Config

    source = NOTEBOOKS / f"{name}.ipynb"
    stem = output_name(name, parameters)
    running, target, failed = (output_dir / f"{stem}{suffix}.ipynb" for suffix in (".running", "", ".failed"))
    try:
        papermill.execute_notebook(
            str(source), str(running), parameters=parameters, cwd=str(NOTEBOOKS),
            kernel_name="python3", progress_bar=progress, log_output=False,
            config=Config(KernelManager={"transport": "ipc"}),  # Unix sockets: no TCP port, not even on loopback
            # Shutting a kernel down interrupts it first (jupyter_client); if that SIGINT lands in a handler the
            # kernel logs "KeyboardInterrupt caught in kernel" to our terminal. The notebook has the real errors.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except BaseException:
        if running.exists():
            running.replace(failed)
        raise
    running.replace(target)
    failed.unlink(missing_ok=True)
    return target


def render_html(executed: Path, html_dir: Path) -> Path:
    from nbconvert import HTMLExporter

    html_dir.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_filename(str(executed))
    target = html_dir / f"{executed.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target


def plan(args) -> list[tuple[str, dict]]:
    """(notebook, parameters) in order; a bad --only or name is a ProviderError before any kernel starts."""
    from .experiments import check_names

    common = {"experiment_name": args.experiment, "backend": args.backend, "local_dir": args.local_dir}
    if args.bucket:
        common["bucket"] = args.bucket
    model = {"llm_provider": args.llm, **({"model_name": args.model} if getattr(args, "model", None) else {})}
    if getattr(args, "tracker", "experiments") != "experiments":
        common["tracker"] = args.tracker
    if getattr(args, "tracking_uri", None):
        common["tracking_uri"] = args.tracking_uri
    if args.sweep:
        jobs = [("01_single_llm", {**common, **model, "temperature": t, "run_name": sweep_run_name(t)})
                for t in args.sweep]
    else:
        unknown = [o for o in args.only or [] if not any(n.startswith(o) for n in SCENARIOS)]
        if unknown:
            raise ProviderError(f"{setting('only', ' '.join(unknown))}: no notebook starts with that; "
                                f"have {', '.join(n[:2] for n in SCENARIOS)}.")
        chosen = [n for n in SCENARIOS if not args.only or any(n.startswith(o) for o in args.only)]
        jobs = [(n, common if n.startswith("04") else {**common, **model}) for n in chosen]
    for _, parameters in jobs:
        check_names(parameters["experiment_name"], parameters.get("run_name"))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default="auto", choices=["auto", "offline", "openai", "bedrock"])
    parser.add_argument("--backend", default="auto", choices=["auto", "local", "aws"])
    parser.add_argument("--experiment", default="langchain-sagemaker-tracker")
    parser.add_argument("--model", help="model id for notebooks 01-03 (default: the provider's default per kind)")
    parser.add_argument("--sweep", nargs="+", type=float, metavar="TEMPERATURE", help="run notebook 01 once per temperature")
    parser.add_argument("--only", nargs="+", metavar="PREFIX", help="run only these notebooks, e.g. 01 03")
    parser.add_argument("--output-dir", default=str(ROOT / "build"))
    parser.add_argument("--local-dir", default=os.environ.get("SAGEMAKER_LOCAL_DIR") or str(ROOT / ".sagemaker-local"))
    parser.add_argument("--bucket", help="S3 bucket for the traces (default: the SDK's sagemaker-<region>-<account>)")
    parser.add_argument("--tracker", default=os.environ.get("TRACKER") or "experiments", choices=["experiments", "mlflow"])
    parser.add_argument("--tracking-uri", help="MLflow tracking URI or MLflow App ARN (tracker mlflow; default .mlflow/)")
    parser.add_argument("--no-html", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("papermill").setLevel(logging.WARNING)  # our own lines say which notebook runs
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # nbconvert's alt-text hints about plots
    # Kernels inherit this: spools go to the repository's .trace-spool, where upload_pending_spools looks.
    os.environ.setdefault("SAGEMAKER_TRACE_SPOOL_DIR", str(ROOT / ".trace-spool"))
    os.environ.setdefault("SAGEMAKER_EVAL_SPOOL_DIR", str(ROOT / ".eval-spool"))  # notebook 05's results
    output_dir = Path(args.output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        jobs = plan(args)
    except ProviderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for index, (name, parameters) in enumerate(jobs, 1):
        label = f"[{index}/{len(jobs)}] {name}" + (f" ({parameters['run_name']})" if "run_name" in parameters else "")
        print(f"{label} ...", flush=True)
        started, cpu = time.monotonic(), _children_cpu()
        try:
            executed = execute(name, parameters, output_dir, progress=sys.stderr.isatty())
        except Exception as error:
            print(f"{label} FAILED: {failure_line(error)}", file=sys.stderr)
            failed = output_dir / f"{output_name(name, parameters)}.failed.ipynb"
            if failed.exists() and not args.no_html:
                render_html(failed, output_dir / "html")
            print(f"The partly executed notebook: {failed} (HTML in {output_dir / 'html'}); "
                  "the last good copy, if any, is unchanged.", file=sys.stderr)
            return 1
        if not args.no_html:
            render_html(executed, output_dir / "html")
        (output_dir / "html" / f"{executed.stem}.failed.html").unlink(missing_ok=True)  # the copy is good again
        print(f"{label} done in {time.monotonic() - started:.1f} s (kernel CPU {_children_cpu() - cpu:.1f} s) -> {executed.relative_to(output_dir.parent) if executed.is_relative_to(output_dir.parent) else executed}", flush=True)
    print(f"Executed notebooks in {output_dir}, HTML in {output_dir / 'html'}.")
    return 0


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (the kernels): a load-independent cost per notebook."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failure_line(error: BaseException) -> str:
    """The one line that says why a notebook failed: the cell's exception name and message."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[-1] if text else ''}"


if __name__ == "__main__":
    sys.exit(main())
