"""Regenerates the README's result sections from the recorded JSON files.

Run: ``python benchmarks/update_readme.py``

Replaces the text between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` for each section below; sections whose results
are missing say so instead of showing numbers. Each benchmark section's
budget chart (``budget.png`` next to its records) is redrawn from the records.
"""

import glob
import json
import os
import re

from keras_kd_cli.bench.dense_runner import dense_table
from keras_kd_cli.bench.dense_tasks import ROWS as DENSE_ROWS
from keras_kd_cli.bench.dense_tasks import TASKS as DENSE_TASKS
from keras_kd_cli.bench.table import load_records, markdown_table, rows_of, write_budget_chart

README = "README.md"
SAMPLE = "benchmarks/results/sample-v2"
SAMPLE_OLD = "benchmarks/results/sample"
SAMPLE_LONGER = "benchmarks/results/sample-30-epochs"
CIFAR = "benchmarks/results/cifar10-v2"
CIFAR_OLD = "benchmarks/results/cifar10"
PROTOCOL_SEARCH = "benchmarks/results/protocol-search"
DIAGNOSTICS = "benchmarks/results/diagnostics"
SPEED = "benchmarks/results/speed.json"


def _machine(folder):
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json") and name != "teacher.json":
            with open(os.path.join(folder, name)) as f:
                record = json.load(f)
            if "machine" in record:
                return record["machine"], record.get("command", "")
    return "unknown", ""


def bench_section(folder):
    if not os.path.isdir(folder):
        return "_No rows recorded yet._"
    machine, command = _machine(folder)
    text = (
        f"Generated from `{folder}/*.json` (machine: {machine}; command: `{command}`).\n\n"
        + markdown_table(folder)
    )
    chart = f"{folder}/budget.png"
    if write_budget_chart(folder, chart) is None:
        return text
    return (
        f"{text}\n\n![Validation accuracy against int8 file size and TFLite-Micro arena]"
        f"({chart})\n\n`{chart}`: drawn from the same records by "
        f"`python benchmarks/update_readme.py` (and by `keras-kd bench --table-only --out "
        f"{folder}`); the teacher (float, no int8 file) and the student alone are lines."
    )


def dense_section(task):
    """The segmentation or sequence table, teacher first, rows in their order."""
    folder = f"benchmarks/results/{task}"
    names = ["teacher", *DENSE_ROWS[task]]
    found = {name: path for name in names if os.path.exists(path := f"{folder}/{name}.json")}
    if not found:
        return f"_No rows recorded yet: run `python benchmarks/dense_bench.py --task {task}`._"
    records = []
    for name in names:
        if name in found:
            with open(found[name]) as f:
                records.append(json.load(f))
    missing = [n for n in names if n not in found]
    machine, command = records[-1].get("machine", "unknown"), records[-1].get("command", "")
    text = (
        f"Generated from `{folder}/*.json` (machine: {machine}; command: `{command}`; one "
        "run each, seed 0).\n\n" + dense_table(records, DENSE_TASKS[task].metric)
    )
    return text + (f"\n\nNot recorded yet: {', '.join(missing)}." if missing else "")


def speed_section():
    if not os.path.exists(SPEED):
        return "_Not measured yet: run `python benchmarks/speed.py`._"
    with open(SPEED) as f:
        record = json.load(f)
    lines = [
        f"Generated from `{SPEED}` (machine: {record['machine']}; batch {record['batch_size']}, "
        f"{record['steps_per_epoch']} steps per epoch, median of {record['rounds']} interleaved "
        f"rounds; command: `{record['command']}`).",
        "",
        "| step | ms/step |",
        "|---|---|",
    ]
    steps = record["seconds_per_step"].items()
    lines += [f"| {name} | {1000 * value:.1f} |" for name, value in steps]
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in record["ratios"].items()]
    sizes = record["cache_bytes_per_sample"].items()
    lines += ["", "| teacher cache | bytes per sample |", "|---|---|"]
    lines += [f"| {name} | {value:,} |" for name, value in sizes]
    memory_command = record.get("memory_command", record["command"])
    lines += ["", f"Peak resident memory, 2-epoch fit in its own process (`{memory_command}`):"]
    lines += ["", "| fit | peak RSS (MiB) |", "|---|---|"]
    lines += [f"| {name} | {value:,.0f} |" for name, value in record["peak_memory_mib"].items()]
    if "tasks" in record:
        lines += [
            "",
            f"Logits with positions (`{record['tasks_command']}`, {record['tasks_machine']}):",
        ]
        lines += ["", "| task | step | ms/step |", "|---|---|---|"]
        for task, steps in record["tasks"].items():
            lines += [f"| {task} | {name} | {1000 * value:.1f} |" for name, value in steps.items()]
        lines += ["", "| ratio | median | range over rounds |", "|---|---|---|"]
        for name, value in record["task_ratios"].items():
            lines.append(
                f"| {name} | {value['median']:.2f} | {value['low']:.2f}-{value['high']:.2f} |"
            )
    return "\n".join(lines)


def _records(folder, pattern):
    paths = sorted(glob.glob(os.path.join(folder, pattern)))
    records = []
    for path in paths:
        with open(path) as f:
            records.append((path, json.load(f)))
    return records


def protocol_search_section():
    from protocol_search import VARIANTS

    settings = {
        f"{CIFAR_OLD}/student_alone.json": "decoupled decay 5e-4 in the optimizer, lr 0.05",
        "benchmarks/results/cifar10-l2/student_alone.json": "L2 2.5e-4 on the kernels, lr 0.05",
    }
    for name, change in VARIANTS.items():
        text = ", ".join(f"{k} {v}" for k, v in change.items())
        settings[f"{PROTOCOL_SEARCH}/{name}/student_alone.json"] = text
    lines = [
        "| settings (batch 128 unless said) | student alone (val.) | seconds | command |",
        "|---|---|---|---|",
    ]
    for path, text in settings.items():
        if os.path.exists(path):
            with open(path) as f:
                r = json.load(f)
            lines.append(
                f"| {text} | {r['validation_accuracy']:.2%} | {r['seconds']:.0f} | "
                f"`{r.get('command', 'not recorded')}` |"
            )
        else:
            lines.append(f"| {text} | not run yet | | |")
    return "\n".join(lines)


def diagnostics_section():
    from gradient_at_dml_check import VARIANTS

    records = _records(DIAGNOSTICS, "*.json")
    order = list(VARIANTS)
    records.sort(key=lambda pr: order.index(pr[1]["variant"]))
    if not records:
        return "_Not run yet: `python benchmarks/gradient_at_dml_check.py`._"
    lines = [
        f"Generated from `{DIAGNOSTICS}/*.json` (command: `{records[0][1]['command']}`; "
        f"{records[0][1]['data']}, {records[0][1]['epochs']} epochs, protocol "
        f"`{records[0][1]['protocol']}`).",
        "",
        "| variant | what it tests | accuracy | peers |",
        "|---|---|---|---|",
    ]
    for _, r in records:
        peers = " / ".join(f"{a:.2%}" for a in r.get("peer_accuracies", []))
        lines.append(
            f"| {r['variant']} | {VARIANTS[r['variant']][1]} | {r['validation_accuracy']:.2%} "
            f"| {peers} |"
        )
    return "\n".join(lines)


def longer_schedule_section():
    """The sample's rows at the protocol's 10 epochs beside the same rows run longer."""
    longer = load_records(SAMPLE_LONGER)
    if not longer:
        return "_Not run yet._"
    runs = [load_records(SAMPLE), longer]
    short, long = (records["student_alone"]["epochs"] for records in runs)
    lines = [
        f"Generated from `{SAMPLE}/*.json` and `{SAMPLE_LONGER}/*.json` "
        f"(command: `{longer['student_alone']['command']}`).",
        "",
        f"| row | {short} epochs | vs alone | {long} epochs | vs alone |",
        "|---|---|---|---|---|",
    ]
    for name in (row for row in rows_of(longer) if row in longer):
        cells = []
        for records in runs:
            accuracy = records[name]["validation_accuracy"]
            alone = records["student_alone"]["validation_accuracy"]
            cells.append(f"{accuracy:.2%} | {100 * (accuracy - alone):+.2f}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def replace(text, name, body):
    start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    pattern = re.compile(f"({re.escape(start)}).*?({re.escape(end)})", re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no generated:{name} markers")
    return pattern.sub(lambda m: f"{m.group(1)}\n{body}\n{m.group(2)}", text)


def main():
    with open(README) as f:
        text = f.read()
    text = replace(text, "sample", bench_section(SAMPLE))
    text = replace(text, "sample-0.1", bench_section(SAMPLE_OLD))
    text = replace(text, "sample-longer", longer_schedule_section())
    text = replace(text, "cifar10", bench_section(CIFAR))
    text = replace(text, "cifar10-0.1", bench_section(CIFAR_OLD))
    text = replace(text, "protocol-search", protocol_search_section())
    text = replace(text, "diagnostics", diagnostics_section())
    text = replace(text, "speed", speed_section())
    for task in DENSE_TASKS:
        text = replace(text, task, dense_section(task))
    with open(README, "w") as f:
        f.write(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
