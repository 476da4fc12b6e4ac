"""The results table (Markdown) and chart (PNG) from the benchmark's JSON files."""

import glob
import json
import os

from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.rows import ALL_ROWS


def load_records(folder):
    """``{method: record}`` of every JSON in ``folder``."""
    records = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as f:
            record = json.load(f)
        if "method" in record:
            records[record["method"]] = record
    return records


def seed_accuracies(folder):
    """``{method: [validation accuracy of each seed]}``: seed 0's record in
    ``folder``, then those of ``folder/seed-N/`` (`run_bench`'s ``seed``), in
    seed order; only rows that finished (status ok).

    Example:
        ```python
        seed_accuracies("benchmarks/results/cifar10-v2")["kd"]  # [0.7984, 0.7991, 0.7962]
        ```
    """
    folders = [folder] + sorted(
        glob.glob(os.path.join(folder, "seed-*")), key=lambda f: int(f.rsplit("-", 1)[1])
    )
    runs = {}
    for seed_dir in folders:
        for name, record in load_records(seed_dir).items():
            if record.get("status", "ok") == "ok" and "validation_accuracy" in record:
                runs.setdefault(name, []).append(record["validation_accuracy"])
    return runs


def mean_and_std(values):
    """``(mean, sample standard deviation)``; the deviation is None for one value."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def accuracy_text(values):
    """``"80.12 ± 0.30% (3 runs)"``, or ``"79.84% (1 run)"``."""
    mean, std = mean_and_std(values)
    if std is None:
        return f"{mean:.2%} (1 run)"
    return f"{100 * mean:.2f} ± {100 * std:.2f}% ({len(values)} runs)"


def rows_of(records):
    """The benchmark's rows, less those the records' protocol does not run."""
    protocol = next((r["protocol"] for r in records.values() if "protocol" in r), "cpu")
    return PROTOCOLS[protocol].rows if protocol in PROTOCOLS else ALL_ROWS


# "vs alone" compares a row with the same architecture trained alone:
# Born-Again trains the teacher's architecture.
BASELINES = {"resnet20_alone": "resnet20_alone", "born_again": "resnet20_alone"}


def macs_of(folder, name, record):
    """Multiply-accumulates per image of a row's deployable model: the record's
    ``macs``, else counted from the saved model (records made before the field
    existed: ``ROW.keras`` in ``folder``, the teacher's ``source``), else None.

    Args:
        folder: the records' folder.
        name: the row (or ``"teacher"``).
        record: its JSON record.

    Returns:
        An int, or None when neither the field nor a saved model exists.

    Example:
        ```python
        macs_of("benchmarks/results/cifar10", "kd", record)  # 12,501,632
        ```
    """
    if record.get("macs") is not None:
        return record["macs"]
    candidates = [os.path.join(folder, f"{name}.keras")]
    if name == "teacher" and record.get("source"):
        candidates.append(record["source"])
    path = next((p for p in candidates if os.path.isfile(p)), None)
    if path is None:
        return None
    import keras

    from keras_kd.models.complexity import count_macs

    return count_macs(keras.saving.load_model(path))


def _millions(macs):
    return "" if macs is None else f"{macs / 1e6:.1f}M"


# Rows that train no student with a teacher: never the "best" row.
NOT_DISTILLATION = ("student_alone", "student_alone_augmented")


def best_row(records, runs=None):
    """The recorded row of highest validation accuracy among those that
    distill the protocol's student (not its teacher's architecture: see
    `BASELINES`), or None. Chosen on the validation split, so its accuracy
    is an optimistic estimate of what the same recipe reaches on new data.

    Args:
        records: ``{method: record}`` as `load_records` returns.
        runs: ``{method: accuracies}`` as `seed_accuracies` returns: a row's
            mean over its seeds decides (default: seed 0's record).

    Returns:
        The row's name, or None when no such row is recorded.
    """
    runs = runs or {}
    candidates = [
        (mean_and_std(runs.get(name) or [r["validation_accuracy"]])[0], name)
        for name, r in records.items()
        if name not in (*BASELINES, *NOT_DISTILLATION, "teacher")
        and r.get("status", "ok") == "ok"
        and "validation_accuracy" in r
    ]
    return max(candidates)[1] if candidates else None


def _row_line(folder, records, name, r, runs, label=None):
    """One table line: a recorded row ``r`` of ``name`` (None: not run yet),
    its accuracy the mean over the seeds in ``runs`` (the rest: seed 0's)."""
    label = label or name
    if r is None:
        return f"| {label} | not run yet | | | | | | | |"
    if r.get("status") == "diverged":
        return f"| {label} | diverged (loss NaN, see {name}.json) | | | | | | {r['epochs']} | |"
    baseline = BASELINES.get(name, "student_alone")
    accuracies = runs.get(name) or [r["validation_accuracy"]]
    alone = runs.get(baseline)
    delta = ""
    if alone:
        delta = f"{100 * (mean_and_std(accuracies)[0] - mean_and_std(alone)[0]):+.2f}"
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
    macs = _millions(macs_of(folder, name, r))
    return (
        f"| {label} | {accuracy_text(accuracies)} | {delta} | {r['parameters']:,} | {macs} "
        f"| {r['int8_bytes'] / 1024:.1f} | {int8} | {r['epochs']}{init} | {r['seconds']:.0f} |"
    )


def markdown_table(folder):
    """A Markdown table of the recorded rows, in benchmark order, then the
    `best_row` again as **best**. Accuracy and "vs alone" are means over the
    seeds recorded (`seed_accuracies`), with the sample standard deviation;
    a row of one run says so. The other columns are seed 0's run."""
    records = load_records(folder)
    runs = seed_accuracies(folder)
    lines = [
        "| method | val. accuracy (mean ± std over seeds) | vs alone | params | MACs | int8 KB "
        "| int8 acc. LiteRT / Micro (Keras, n images) | epochs (+init) | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    teacher = records.get("teacher")
    if teacher:
        lines.append(
            f"| teacher ({teacher['architecture']}) | {teacher['validation_accuracy']:.2%} | | "
            f"{teacher['parameters']:,} | {_millions(macs_of(folder, 'teacher', teacher))} "
            "| | | | |"
        )
    for name in rows_of(records):
        lines.append(_row_line(folder, records, name, records.get(name), runs))
    best = best_row(records, runs)
    if best is not None:
        label = f"**best**: {best}"
        lines.append(_row_line(folder, records, best, records[best], runs, label=label))
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


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no chart written")
        return None
    return plt


def budget_points(folder):
    """What `write_budget_chart` plots, read from the records of ``folder``.

    Args:
        folder: the records' folder.

    Returns:
        ``{"int8 file (KB)": [(row, KB, accuracy %), ...], "TFLite-Micro arena
        (KB)": [...], "teacher": accuracy % or None, "student_alone": accuracy %
        or None}``: one point per recorded student row with an int8 file (the
        arena panel: those whose arena was measured), in benchmark order.

    Example:
        ```python
        budget_points("benchmarks/results/cifar10")["int8 file (KB)"][0]
        # ("student_alone", 96.59375, 73.88)
        ```
    """
    records = load_records(folder)
    recorded = [records[n] for n in ALL_ROWS if "int8_bytes" in records.get(n, {})]
    points = {}
    for axis, field in BUDGETS.items():
        points[axis] = [
            (r["method"], r[field] / 1024, 100 * r["validation_accuracy"])
            for r in recorded
            if r.get(field) is not None
        ]
    for name in ("teacher", "student_alone"):
        accuracy = records.get(name, {}).get("validation_accuracy")
        points[name] = None if accuracy is None else 100 * accuracy
    return points


BUDGETS = {"int8 file (KB)": "int8_bytes", "TFLite-Micro arena (KB)": "int8_arena_bytes"}


def _spread(values, gap):
    """Label heights: the values in order, pushed apart by at least ``gap``."""
    placed = {}
    last = None
    for i in sorted(range(len(values)), key=lambda i: values[i]):
        last = values[i] if last is None else max(values[i], last + gap)
        placed[i] = last
    return [placed[i] for i in range(len(values))]


def write_budget_chart(folder, path):
    """Accuracy against int8 file size and against TFLite-Micro arena, one point
    per recorded student row, with the teacher and the student alone as lines:
    the best student under a flash or RAM budget is the highest point left of it.

    Args:
        folder: the records' folder.
        path: the PNG to write (two panels, 100 dpi).

    Returns:
        ``budget_points(folder)``, the plotted data, or None when matplotlib is
        missing or no row is recorded.

    Example:
        ```python
        write_budget_chart("benchmarks/results/cifar10", "budget.png")
        ```
    """
    plt = _matplotlib()
    points = budget_points(folder)
    if plt is None or not points["int8 file (KB)"]:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5), sharey=True)
    accuracies = [a for _, _, a in points["int8 file (KB)"]]
    references = [points[n] for n in ("teacher", "student_alone") if points[n] is not None]
    low, high = min(accuracies + references) - 2, max(accuracies + references) + 2
    for ax, axis in zip(axes, BUDGETS, strict=True):
        rows = points[axis]
        for name, style in (("teacher", "-"), ("student_alone", "--")):
            if points[name] is not None:
                kind = ", float, no int8 file" if name == "teacher" else ""
                label = f"{name} ({points[name]:.2f}%{kind})"
                ax.axhline(points[name], color="gray", ls=style, lw=1, label=label)
        ax.scatter([kb for _, kb, _ in rows], [a for _, _, a in rows], color="#4c72b0", zorder=3)
        right = 1.4 * max(kb for _, kb, _ in rows)
        for x in sorted({kb for _, kb, _ in rows}):
            column = [(n, a) for n, kb, a in rows if kb == x]
            heights = _spread([a for _, a in column], (high - low) / 45)
            for (name, accuracy), y in zip(column, heights, strict=True):
                ax.annotate(
                    name,
                    (x, accuracy),
                    xytext=(x + right / 30, y),
                    fontsize=7,
                    va="center",
                    arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "gray"},
                )
                high = max(high, y + 1)
        ax.set_xlabel(axis)
        ax.set_xlim(0, right)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(low, high)
    axes[0].set_ylabel("validation accuracy (%)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return points


def write_chart(folder, path):
    """A horizontal bar chart of validation accuracy per row (needs matplotlib)."""
    plt = _matplotlib()
    if plt is None:
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
