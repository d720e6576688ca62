"""Runs `sportsedge predict --json` in-process on each damaged model file of a job, one result per
file on stdout as a JSON line (tests/test_fuzz.py). A crash by signal kills this process: the
parent sees it in the exit status and the missing lines."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from pathlib import Path


def main(job_path: str) -> None:
    from sportsedge.cli import main as cli

    job = json.loads(Path(job_path).read_text())
    for model in job["models"]:
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli(["predict", model, job["image"], "--json", "--top-k", "3"])
        except SystemExit as e:  # argparse; never expected here
            code = e.code
        except BaseException:  # escaped the CLI's own handling: a defect, reported as a traceback
            code, err = -1, io.StringIO(traceback.format_exc())
        print(json.dumps({"model": model, "code": code, "out": out.getvalue(), "err": err.getvalue()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
