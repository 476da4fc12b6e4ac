"""Runs a .tflite model in the TFLite-Micro interpreter, in its own process.

Usage: ``python -m keras_kd.export._micro_worker MODEL.tflite INPUTS.npy OUT.npz ARENA``

A bad model or a too-small arena can crash the interpreter, so the parent
runs this module as a subprocess. It writes the raw outputs and the arena
bytes that the interpreter's allocation recorder reports.
"""

import os
import re
import sys
import tempfile

import numpy as np
from tflite_micro import runtime


def _recorded_arena(interpreter):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    found = re.search(r"Arena allocation total (\d+) bytes", text)
    return int(found.group(1)) if found else -1


def main(model_path, inputs_path, out_path, arena_size):
    with open(model_path, "rb") as f:
        model_bytes = f.read()
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=int(arena_size))
    inputs = np.load(inputs_path)
    outputs = []
    for x in inputs:
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    np.savez(out_path, outputs=np.concatenate(outputs), arena=_recorded_arena(interpreter))


if __name__ == "__main__":
    main(*sys.argv[1:])
