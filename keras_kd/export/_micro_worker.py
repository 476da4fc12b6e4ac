"""Runs a .tflite model in the TFLite-Micro interpreter, in its own process.

Arguments: ``MODEL.tflite INPUTS.npz OUT.npz START_ARENA MARGIN [PROGRESS]``,
INPUTS holding one array per model input (``arr_0``, ``arr_1``, ... in the
file's input order). With PROGRESS, the number of samples run so far is
written to that file every `PROGRESS_INTERVAL_SECONDS` (the parent reads it).

A bad model can crash the interpreter, so the parent runs this file as a
subprocess, by its path (`keras_kd.export.micro`): it imports no keras_kd module,
hence no TensorFlow.
It finds the smallest arena in which the interpreter allocates the model's
tensors, then runs every input with that arena plus ``MARGIN`` bytes and
writes the outputs and that arena size, the one that ran.

The allocation recorder's "arena allocation total" is not that size: it is
the arena after memory planning, and leaves out the temporary tensors the
kernels take from the arena while they prepare. For tiny models (e.g. 8x8x3
input, 4 filters) those exceed the planned activations, and an arena of the
recorded size fails to allocate.
"""

import os
import sys
import time

import numpy as np
from tflite_micro import runtime

MAX_ARENA_BYTES = 256 * 1024 * 1024
PROGRESS_INTERVAL_SECONDS = 0.2


def _report(progress_path, done):
    """Writes ``done`` to ``progress_path`` whole (the parent never reads half a number)."""
    with open(progress_path + ".tmp", "w") as f:
        f.write(str(done))
    os.replace(progress_path + ".tmp", progress_path)


def _allocates_here(model_bytes, arena_size):
    try:
        runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
    except RuntimeError:  # "TFLM failed to allocate tensors"
        return False
    return True


def _allocates(model_bytes, arena_size):
    """Whether the model allocates in ``arena_size`` bytes, probed in a forked child.

    Just under the smallest arena that works, a kernel's prepare can fail
    with a temporary buffer still held, and the interpreter then crashes
    (SIGSEGV after "All temp buffers must be freed before calling
    ResetTempAllocations()") instead of raising: an int8 6-16-3 Dense MLP
    did at 1,600 bytes (1,500 raised, 1,700 allocated). A crashed probe is
    an arena that does not allocate.
    """
    if not hasattr(os, "fork"):  # no fork (Windows): probe in this process
        return _allocates_here(model_bytes, arena_size)
    pid = os.fork()
    if pid == 0:  # the child: report by exit code only
        try:
            os._exit(0 if _allocates_here(model_bytes, arena_size) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def smallest_arena(model_bytes, start):
    """The smallest arena size (bytes) in which ``model_bytes`` allocates."""
    high = start
    while not _allocates(model_bytes, high):
        if high >= MAX_ARENA_BYTES:
            raise RuntimeError(f"TFLM failed to allocate tensors even in a {high}-byte arena")
        high *= 2
    low = 1  # low fails (or is the answer), high allocates
    while low < high:
        middle = (low + high) // 2
        if _allocates(model_bytes, middle):
            high = middle
        else:
            low = middle + 1
    return high


def main(model_path, inputs_path, out_path, start_arena, margin, progress_path=None, output="0"):
    with open(model_path, "rb") as f:
        model_bytes = f.read()
    arena = smallest_arena(model_bytes, int(start_arena)) + int(margin)
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena)
    with np.load(inputs_path) as saved:
        inputs = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    outputs, reported = [], time.monotonic()
    for sample in range(len(inputs[0])):
        for position, x in enumerate(inputs):
            interpreter.set_input(x[sample : sample + 1], position)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(int(output))))
        if progress_path and time.monotonic() - reported >= PROGRESS_INTERVAL_SECONDS:
            _report(progress_path, sample + 1)
            reported = time.monotonic()
    np.savez(out_path, outputs=np.concatenate(outputs), arena=arena)


if __name__ == "__main__":
    main(*sys.argv[1:])
