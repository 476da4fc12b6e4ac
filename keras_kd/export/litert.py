"""Running a .tflite model in the LiteRT interpreter (ai_edge_litert)."""

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def quantize_input(x, detail):
    """Float inputs to the model's input type (int8 with its scale/zero point)."""
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize_output(y, detail):
    """Model outputs back to float32 (int8 outputs use their scale/zero point)."""
    if detail["dtype"] == np.float32:
        return y.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (y.astype(np.float32) - zero_point) * scale


def op_names(model_bytes):
    """The builtin op names of the model, in execution order."""
    interpreter = Interpreter(model_content=model_bytes)
    return [op["op_name"] for op in interpreter._get_ops_details()]


def run_litert(model_bytes, images):
    """Runs each image (batch 1) through LiteRT; returns float32 outputs (N, ...)."""
    interpreter = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=False)
    interpreter.allocate_tensors()
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    outputs = []
    for image in images:
        interpreter.set_tensor(input_detail["index"], quantize_input(image[None], input_detail))
        interpreter.invoke()
        outputs.append(
            dequantize_output(interpreter.get_tensor(output_detail["index"]), output_detail)
        )
    return np.concatenate(outputs), input_detail, output_detail
