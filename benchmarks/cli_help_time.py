"""Times `keras-kd --help` and each `keras-kd COMMAND --help` (issue 17).

Each help runs in a fresh process, as `python -m keras_kd_cli` from the
repository root (the same imports as the installed `keras-kd` script, on this
checkout), several times; the script prints the median and the slowest wall
time of each, and, for scale, the time of a process that only imports
TensorFlow. Not a test: the times depend on the machine and its load.

Usage: ``python benchmarks/cli_help_time.py [--repeats N]``
"""

import argparse
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HELPS = ([], ["demo"], ["export"], ["bench"])


def wall_time(argv):
    """Seconds one fresh process takes to run ``argv``, and its stderr."""
    start = time.perf_counter()
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, run.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each help; default: 5")
    repeats = parser.parse_args().repeats
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {repeats} runs each"
    )
    print(f"{'command':<28} {'median s':>9} {'max s':>7}  stderr")
    rows = [(["keras-kd", *command, "--help"], [*command, "--help"]) for command in HELPS]
    for label, argv in rows:
        runs = [wall_time([sys.executable, "-m", "keras_kd_cli", *argv]) for _ in range(repeats)]
        times = [seconds for seconds, _ in runs]
        stderr = "empty" if not any(err for _, err in runs) else "NOT EMPTY"
        print(
            f"{' '.join(label):<28} {statistics.median(times):>9.2f} {max(times):>7.2f}  {stderr}"
        )
    baseline = [wall_time([sys.executable, "-c", "import tensorflow"])[0] for _ in range(repeats)]
    print(
        f"{'(python -c import tensorflow)':<28} {statistics.median(baseline):>9.2f} "
        f"{max(baseline):>7.2f}"
    )


if __name__ == "__main__":
    main()
