"""TFLite-Micro checks: outputs and the smallest arena, run in a subprocess."""

import os
import subprocess
import sys
import tempfile

import numpy as np

# Ops that TFLite-Micro has no kernel for and that Keras models commonly
# produce (REFERENCES.md): GELU, TILE (nearest UpSampling2D), REDUCE_PROD.
KNOWN_UNSUPPORTED_OPS = frozenset({"GELU", "TILE", "REDUCE_PROD"})
ARENA_ALIGNMENT_MARGIN = 16


class MicroError(RuntimeError):
    """The TFLite-Micro interpreter could not load or run the model."""


def _run_worker(model_path, inputs, arena_size, folder):
    inputs_path = os.path.join(folder, "inputs.npy")
    out_path = os.path.join(folder, "outputs.npz")
    np.save(inputs_path, inputs)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_kd.export._micro_worker",
            model_path,
            inputs_path,
            out_path,
            str(arena_size),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise MicroError(
            f"TFLite-Micro could not run the model with a {arena_size}-byte arena "
            f"(exit code {result.returncode}): {' | '.join(detail[-3:])}"
        )
    with np.load(out_path) as out:
        return out["outputs"], int(out["arena"])


def run_micro(model_bytes, quantized_inputs):
    """Runs int8 inputs through TFLite-Micro.

    Returns ``(outputs, arena_bytes)``: the raw outputs and the arena size the
    allocation recorder reports, verified by a second run with an arena of
    exactly that size (plus alignment margin) giving the same outputs.
    """
    generous = max(16 * len(model_bytes), 256 * 1024)
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "model.tflite")
        with open(model_path, "wb") as f:
            f.write(model_bytes)
        outputs, arena = _run_worker(model_path, quantized_inputs, generous, folder)
        if arena <= 0:
            raise MicroError("TFLite-Micro did not report its arena allocation")
        verified, _ = _run_worker(
            model_path, quantized_inputs[:1], arena + ARENA_ALIGNMENT_MARGIN, folder
        )
        if not np.array_equal(verified, outputs[:1]):
            raise MicroError(f"outputs differ with the recorded arena size ({arena} bytes)")
    return outputs, arena + ARENA_ALIGNMENT_MARGIN
