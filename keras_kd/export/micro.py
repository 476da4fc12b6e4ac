"""TFLite-Micro checks: outputs in the smallest arena that runs, in a subprocess."""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_kd._progress import Progress

# Ops that TFLite-Micro has no kernel for and that Keras models commonly
# produce (REFERENCES.md): GELU, TILE (nearest UpSampling2D), REDUCE_PROD, and
# SELECT, which Keras's Embedding emits (it maps negative ids with a where);
# TFLite-Micro only has SELECT_V2 ("Didn't find op for builtin opcode 'SELECT'").
KNOWN_UNSUPPORTED_OPS = frozenset({"GELU", "TILE", "REDUCE_PROD", "SELECT"})
ARENA_ALIGNMENT_MARGIN = 16  # TFLite-Micro aligns the arena's start to 16 bytes
# The worker is stopped when its count has not moved for this long: a fixed
# total would fail a 5,000-image check on a loaded machine that is still
# making progress (it did: 600 s at a load average of 14).
STALL_SECONDS = 600
POLL_SECONDS = 0.1
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_micro_worker.py")


class MicroError(RuntimeError):
    """The TFLite-Micro interpreter could not load or run the model."""


def _count(progress_path):
    try:
        with open(progress_path) as f:
            return int(f.read())
    except (OSError, ValueError):  # not written yet
        return 0


def _run_worker(model_path, inputs_path, out_path, start_arena, progress, output=0):
    """Runs the worker, polling the count it writes into ``progress``."""
    folder = os.path.dirname(out_path)
    progress_path = os.path.join(folder, "progress")
    command = [
        sys.executable,
        "-c",
        # By path, so that neither keras_kd nor TensorFlow is imported; through
        # runpy, so that this folder's modules do not shadow top-level ones.
        f"import runpy; runpy.run_path({WORKER!r}, run_name='__main__')",
        model_path,
        inputs_path,
        out_path,
        str(start_arena),
        str(ARENA_ALIGNMENT_MARGIN),
        progress_path,
        str(output),
    ]
    log_path = os.path.join(folder, "log.txt")
    with open(log_path, "w") as log:
        worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        done, deadline = 0, time.monotonic() + STALL_SECONDS
        while True:
            try:
                worker.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                count = _count(progress_path)
                if count > done:
                    done, deadline = count, time.monotonic() + STALL_SECONDS
                elif time.monotonic() > deadline:
                    worker.kill()
                    worker.wait()
                    raise subprocess.TimeoutExpired(command, STALL_SECONDS) from None
                progress.update(count)
    if worker.returncode != 0:
        with open(log_path) as log:
            detail = log.read().strip().splitlines()
        # The interpreter prints the op it lacks long before the Python traceback ends.
        missing = sorted({line.strip() for line in detail if "Didn't find op" in line})
        raise MicroError(
            f"TFLite-Micro could not run the model (exit code {worker.returncode}): "
            f"{' | '.join([*missing, *detail[-3:]])}"
        )
    with np.load(out_path) as out:
        outputs = out["outputs"]
        progress.update(len(outputs))
        progress.close()
        return outputs, int(out["arena"])


def run_micro(model_bytes, quantized_inputs, verbose=0, output=0):
    """Runs int8 inputs through TFLite-Micro.

    ``quantized_inputs`` is an array of samples for a one-input model, or a
    list of arrays in the file's input order (see
    `keras_kd.export.litert.file_positions`); each sample feeds every input.

    Returns ``(outputs, arena_bytes)``: the raw outputs and the arena they
    ran in, the smallest in which the interpreter allocates the model plus
    `ARENA_ALIGNMENT_MARGIN` bytes (a microcontroller's arena buffer may not
    start on the 16-byte boundary TFLite-Micro aligns to). Measured on this
    64-bit host, it is an upper bound for a 32-bit microcontroller, whose
    interpreter structs are smaller.

    ``output`` is the position of the output returned among the file's
    (`keras_kd.export.litert.output_position`; the first by default).

    ``verbose`` (``"auto"``, 0, 1 or 2) shows the ``TFLite-Micro check``
    stage's progress, which the worker process writes to a file this one polls.
    """
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "model.tflite")
        inputs_path = os.path.join(folder, "inputs.npz")
        with open(model_path, "wb") as f:
            f.write(model_bytes)
        several = isinstance(quantized_inputs, list | tuple)
        np.savez(inputs_path, *(quantized_inputs if several else [quantized_inputs]))
        start = max(16 * len(model_bytes), 256 * 1024)
        samples = len(quantized_inputs[0] if several else quantized_inputs)
        progress = Progress("TFLite-Micro check", samples, verbose, "image")
        out_path = os.path.join(folder, "out.npz")
        return _run_worker(model_path, inputs_path, out_path, start, progress, output)
