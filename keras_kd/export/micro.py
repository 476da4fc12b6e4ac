"""TFLite-Micro checks: outputs in the smallest arena that runs, in a subprocess."""

import os
import subprocess
import sys
import tempfile

import numpy as np

# Ops that TFLite-Micro has no kernel for and that Keras models commonly
# produce (REFERENCES.md): GELU, TILE (nearest UpSampling2D), REDUCE_PROD.
KNOWN_UNSUPPORTED_OPS = frozenset({"GELU", "TILE", "REDUCE_PROD"})
ARENA_ALIGNMENT_MARGIN = 16  # TFLite-Micro aligns the arena's start to 16 bytes
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_micro_worker.py")


class MicroError(RuntimeError):
    """The TFLite-Micro interpreter could not load or run the model."""


def _run_worker(model_path, inputs_path, out_path, start_arena):
    result = subprocess.run(
        [
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
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise MicroError(
            f"TFLite-Micro could not run the model (exit code {result.returncode}): "
            f"{' | '.join(detail[-3:])}"
        )
    with np.load(out_path) as out:
        return out["outputs"], int(out["arena"])


def run_micro(model_bytes, quantized_inputs):
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
    """
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "model.tflite")
        inputs_path = os.path.join(folder, "inputs.npz")
        with open(model_path, "wb") as f:
            f.write(model_bytes)
        several = isinstance(quantized_inputs, list | tuple)
        np.savez(inputs_path, *(quantized_inputs if several else [quantized_inputs]))
        start = max(16 * len(model_bytes), 256 * 1024)
        return _run_worker(model_path, inputs_path, os.path.join(folder, "out.npz"), start)
