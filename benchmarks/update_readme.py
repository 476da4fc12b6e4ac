"""Regenerates the README's result sections from the recorded JSON files.

Run: ``python benchmarks/update_readme.py``

Replaces the text between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` for each section below; sections whose results
are missing say so instead of showing numbers. Each benchmark section's
budget chart (``budget.png`` next to its records) is redrawn from the records.
"""

import json
import os
import re

from keras_kd.bench.table import markdown_table, write_budget_chart

README = "README.md"
SAMPLE = "benchmarks/results/sample"
CIFAR = "benchmarks/results/cifar10"
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
    text = replace(text, "cifar10", bench_section(CIFAR))
    text = replace(text, "speed", speed_section())
    with open(README, "w") as f:
        f.write(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
