"""The results table (Markdown) and chart (PNG) from the benchmark's JSON files."""

import glob
import json
import os

from keras_kd.bench.protocols import PROTOCOLS
from keras_kd.bench.rows import ALL_ROWS


def load_records(folder):
    """``{method: record}`` of every JSON in ``folder``."""
    records = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as f:
            record = json.load(f)
        if "method" in record:
            records[record["method"]] = record
    return records


def rows_of(records):
    """The benchmark's rows, less those the records' protocol does not run."""
    protocol = next((r["protocol"] for r in records.values() if "protocol" in r), "cpu")
    return PROTOCOLS[protocol].rows if protocol in PROTOCOLS else ALL_ROWS


# "vs alone" compares a row with the same architecture trained alone:
# Born-Again trains the teacher's architecture.
BASELINES = {"resnet20_alone": "resnet20_alone", "born_again": "resnet20_alone"}


def markdown_table(folder):
    """A Markdown table of the recorded rows, in benchmark order."""
    records = load_records(folder)
    lines = [
        "| method | val. accuracy | vs alone | params | int8 KB "
        "| int8 acc. LiteRT / Micro (Keras, n images) | epochs (+init) | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    teacher = records.get("teacher")
    if teacher:
        lines.append(
            f"| teacher ({teacher['architecture']}) | {teacher['validation_accuracy']:.2%} | | "
            f"{teacher['parameters']:,} | | | | |"
        )
    for name in rows_of(records):
        r = records.get(name)
        if r is None:
            lines.append(f"| {name} | not run yet | | | | | | |")
            continue
        if r.get("status") == "diverged":
            lines.append(
                f"| {name} | diverged (loss NaN, see {name}.json) | | | | | {r['epochs']} | |"
            )
            continue
        baseline = BASELINES.get(name, "student_alone")
        alone = records.get(baseline, {}).get("validation_accuracy")
        delta = "" if alone is None else f"{100 * (r['validation_accuracy'] - alone):+.2f}"
        if name != baseline and baseline != "student_alone":
            delta += f" (vs {baseline})"
        micro = r.get("int8_micro_accuracy")
        int8 = f"{r['int8_litert_accuracy']:.2%} / " + ("-" if micro is None else f"{micro:.2%}")
        # Records made before int8_check_samples existed were checked on the
        # first 1,000 validation images, with no Keras figure on that subset.
        keras_same = r.get("int8_check_keras_accuracy")
        same = "-" if keras_same is None else f"{keras_same:.2%}"
        int8 += f" ({same}, {r.get('int8_check_samples', 1000):,})"
        init = f" (+{r['init_epochs']})" if r.get("init_epochs") else ""
        lines.append(
            f"| {name} | {r['validation_accuracy']:.2%} | {delta} | {r['parameters']:,} | "
            f"{r['int8_bytes'] / 1024:.1f} | {int8} | {r['epochs']}{init} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines + ["", *provenance_lines(records)])


def provenance_lines(records):
    """Which command made which rows, at which commit and with which versions."""
    groups = {}
    for name, r in records.items():
        versions = r.get("versions", {})
        key = (
            r.get("command") or "(command not recorded)",
            r.get("git_commit") or "commit not recorded",
            ", ".join(f"{k} {v}" for k, v in versions.items()) or "versions not recorded",
        )
        groups.setdefault(key, []).append(name)
    return [
        f"- `{command}` ({commit}; {versions}): {', '.join(sorted(names))}"
        for (command, commit, versions), names in sorted(groups.items())
    ]


def write_chart(folder, path):
    """A horizontal bar chart of validation accuracy per row (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no chart written")
        return None
    records = load_records(folder)
    names = [n for n in ["teacher", *ALL_ROWS] if "validation_accuracy" in records.get(n, {})]
    values = [100 * records[n]["validation_accuracy"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1))
    ax.barh(names[::-1], values[::-1], color="#4c72b0")
    if "student_alone" in records:
        ax.axvline(
            100 * records["student_alone"]["validation_accuracy"], color="gray", ls="--", lw=1
        )
    ax.set_xlabel("validation accuracy (%)")
    ax.set_xlim(min(values) - 5, max(values) + 2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
