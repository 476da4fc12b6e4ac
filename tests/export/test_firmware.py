"""The firmware files: the C array holds the model's bytes, the op resolver its
ops, the header its int8 quantization parameters (issue 18 §1)."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

import keras_kd_cli as cli
from keras_kd.export import firmware, to_tflite, write_firmware_files
from keras_kd.export.litert import op_names
from tests.helpers import trained_tiny_model


@pytest.fixture(scope="module")
def trained():
    return trained_tiny_model()


@pytest.fixture(scope="module")
def int8_file(trained, tmp_path_factory):
    model, x, _ = trained
    path = tmp_path_factory.mktemp("int8") / "student.tflite"
    to_tflite(model, path, quantization="int8", representative_data=x)
    return path


def _array_bytes(source, name="g_model"):
    body = re.search(rf"alignas\(16\) const unsigned char {name}\[\] = \{{(.*?)\}};", source, re.S)
    numbers = re.findall(r"0x([0-9a-f]{2})", body.group(1))
    length = int(re.search(rf"const int {name}_len = (\d+);", source).group(1))
    return bytes(int(n, 16) for n in numbers), length


def _registered_ops(header):
    methods = re.findall(
        r"resolver\.(Add\w+)\(\) != kTfLiteOk\) return kTfLiteError;  // (\w+)", header
    )
    count = int(re.search(r"constexpr int kModelOpCount = (\d+);", header).group(1))
    return methods, count


def _flatbuffer_ops(model_bytes):
    """The builtin op names in the flatbuffer's operator codes, read with the schema."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(model_bytes, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    return sorted({names[max(c.BuiltinCode(), c.DeprecatedBuiltinCode())] for c in codes})


def test_the_c_array_round_trips_to_the_same_bytes(int8_file):
    files = write_firmware_files(int8_file)
    model_bytes = int8_file.read_bytes()
    source = open(files.source).read()
    array, length = _array_bytes(source)
    assert array == model_bytes and length == len(model_bytes) == files.size_bytes
    assert source.startswith('#include "student.h"')
    header = open(files.header).read()
    assert "extern const unsigned char g_model[];" in header
    assert "extern const int g_model_len;" in header


def test_the_c_array_has_the_bytes_of_xxd(int8_file):
    if shutil.which("xxd") is None:
        pytest.skip("xxd is not installed")
    files = write_firmware_files(int8_file)
    xxd = subprocess.run(["xxd", "-i", str(int8_file)], capture_output=True, text=True, check=True)
    ours = re.findall(r"0x[0-9a-f]{2}", open(files.source).read())
    assert ours == re.findall(r"0x[0-9a-f]{2}", xxd.stdout)


def test_a_compiled_c_array_gives_back_the_file(int8_file, tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    files = write_firmware_files(int8_file)
    main = tmp_path / "main.cc"
    main.write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "student.h"\n'
        "int main() {\n"
        "  if (reinterpret_cast<std::uintptr_t>(g_model) % 16 != 0) return 2;\n"
        "  return fwrite(g_model, 1, g_model_len, stdout) == (size_t)g_model_len ? 0 : 1;\n"
        "}\n"
    )
    binary = tmp_path / "dump"
    include = str(int8_file.parent)
    subprocess.run(
        ["g++", "-std=c++17", "-I", include, str(main), files.source, "-o", str(binary)],
        check=True,
        capture_output=True,
    )
    run = subprocess.run([str(binary)], capture_output=True, check=True)
    assert run.stdout == int8_file.read_bytes()


def test_the_op_resolver_registers_exactly_the_models_ops(int8_file):
    files = write_firmware_files(int8_file)
    model_bytes = int8_file.read_bytes()
    expected = sorted(set(op_names(model_bytes)) - {"DELEGATE"})
    assert files.ops == expected == _flatbuffer_ops(model_bytes)
    methods, count = _registered_ops(open(files.op_resolver).read())
    assert [op for _, op in methods] == expected and count == len(expected) == files.op_count
    assert [method for method, _ in methods] == files.resolver_methods
    assert ("AddConv2D", "CONV_2D") in methods and (
        "AddFullyConnected",
        "FULLY_CONNECTED",
    ) in methods


def test_the_op_resolver_header_compiles(int8_file, tmp_path):
    """Against a stand-in for TFLite-Micro's header that declares the methods used."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    files = write_firmware_files(int8_file)
    stub = tmp_path / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"
    stub.parent.mkdir(parents=True)
    methods = "".join(
        f"  TfLiteStatus {m}() {{ return kTfLiteOk; }}\n" for m in files.resolver_methods
    )
    stub.write_text(
        "#pragma once\nenum TfLiteStatus { kTfLiteOk, kTfLiteError };\n"
        "namespace tflite {\ntemplate <unsigned int N> class MicroMutableOpResolver {\n public:\n"
        f"{methods}}};\n}}\n"
    )
    main = tmp_path / "main.cc"
    main.write_text(
        '#include "student_op_resolver.h"\n'
        "int main() { ModelOpResolver resolver; return RegisterModelOps(resolver); }\n"
    )
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-I",
            str(tmp_path),
            "-I",
            str(int8_file.parent),
            str(main),
            "-o",
            str(tmp_path / "ops"),
        ],
        check=True,
        capture_output=True,
    )
    assert subprocess.run([str(tmp_path / "ops")]).returncode == 0


def test_scale_and_zero_point_are_the_interpreters(int8_file):
    files = write_firmware_files(int8_file)
    interpreter = Interpreter(model_path=str(int8_file))
    header = open(files.header).read()
    for name, detail in (
        ("input", interpreter.get_input_details()[0]),
        ("output", interpreter.get_output_details()[0]),
    ):
        assert detail["dtype"] == np.int8
        scale, zero_point = detail["quantization"]
        expected = [(scale, zero_point)] if name == "input" else (scale, zero_point)
        assert getattr(files, f"{name}_quantization") == expected
        written = re.search(rf"constexpr float g_model_{name}_scale = ([-+.\deE]+)f;", header)
        assert np.float32(float(written.group(1))) == np.float32(scale)
        written = re.search(rf"constexpr int g_model_{name}_zero_point = (-?\d+);", header)
        assert int(written.group(1)) == zero_point


def test_the_report_carries_the_same_quantization(trained, tmp_path):
    model, x, y = trained
    path = tmp_path / "q.tflite"
    report = to_tflite(model, path, quantization="int8", representative_data=x, check_data=(x, y))
    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    assert report.input_quantization == [tuple(detail["quantization"])]
    assert "input scale, zero point" in report.as_table()


def test_a_float_model_has_no_quantization_parameters(trained, tmp_path):
    path = tmp_path / "f.tflite"
    to_tflite(trained[0], path)
    files = write_firmware_files(path, array_name="g_student")
    assert files.input_quantization == [None] and files.output_quantization is None
    header = open(files.header).read()
    assert "scale" not in header and "extern const unsigned char g_student[];" in header
    assert "kStudentOpCount" in open(files.op_resolver).read()
    assert _array_bytes(open(files.source).read(), "g_student")[0] == path.read_bytes()


@pytest.mark.parametrize(
    "op,method",
    [
        ("CONV_2D", "AddConv2D"),
        ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"),
        ("AVERAGE_POOL_2D", "AddAveragePool2D"),
        ("BATCH_TO_SPACE_ND", "AddBatchToSpaceNd"),
        ("RELU6", "AddRelu6"),
        ("L2_NORMALIZATION", "AddL2Normalization"),
        ("PADV2", "AddPadV2"),
        ("BATCH_MATMUL", "AddBatchMatMul"),
        ("CUMSUM", "AddCumSum"),
        ("UNIDIRECTIONAL_SEQUENCE_LSTM", "AddUnidirectionalSequenceLSTM"),
        ("GELU", None),
    ],
)
def test_resolver_method_names(op, method):
    assert firmware.resolver_method(op) == method


def test_an_op_without_a_micro_kernel_stops_the_firmware_build():
    header = firmware.op_resolver_header(["CONV_2D", "GELU"])
    assert '#error "TFLite-Micro has no kernel for the builtin op GELU' in header
    assert "constexpr int kModelOpCount = 2;" in header


@pytest.mark.parametrize("name", ["model", "2fast", "g-model", "", None])
def test_array_name_must_be_a_c_identifier(int8_file, name):
    if name == "model":
        assert write_firmware_files(int8_file, array_name=name).array_name == "model"
        return
    with pytest.raises(ValueError, match="C identifier.*Received: array_name="):
        write_firmware_files(int8_file, array_name=name)


def test_a_folder_in_the_way_is_refused_and_nothing_is_written(int8_file, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(int8_file.read_bytes())
    (tmp_path / "m.h").mkdir()
    with pytest.raises(ValueError, match="would replace folders"):
        write_firmware_files(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h", "m.tflite"]
    with pytest.raises(ValueError, match=r"must not end in \.cc or \.h"):
        firmware.check_firmware_paths(tmp_path / "m.cc")


# The command: `--target mcu` writes the firmware files and prints scale and zero point.


def _mcu_argv(model_path, out):
    return [
        "export",
        str(model_path),
        str(out),
        "--quantize",
        "int8",
        "--data",
        "sample",
        "--target",
        "mcu",
    ]


def _saved_sample_model(tmp_path):
    import keras

    # Seeded: an unlucky random init has near-tied logits that int8 flips (one gave
    # 68% top-1 agreement, under to_tflite's min_agreement).
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    model.save(tmp_path / "small.keras")
    return tmp_path / "small.keras"


def test_cli_target_mcu_writes_the_firmware_files(tmp_path, capsys):
    model_path = _saved_sample_model(tmp_path)
    out = tmp_path / "fw" / "student.tflite"
    assert cli.main(_mcu_argv(model_path, out)) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["student.cc", "student.h", "student.tflite", "student_op_resolver.h"]
    assert _array_bytes((out.parent / "student.cc").read_text())[0] == out.read_bytes()
    detail = Interpreter(model_path=str(out)).get_input_details()[0]
    scale, zero_point = detail["quantization"]
    assert f"input   int8 scale {scale!r}, zero point {zero_point}" in printed
    assert "output  int8 scale" in printed and "MicroMutableOpResolver<" in printed
    assert "MCU check passed" in printed


def test_cli_without_target_mcu_writes_no_firmware_files(tmp_path, capsys):
    model_path = _saved_sample_model(tmp_path)
    out = tmp_path / "fw" / "student.tflite"
    argv = _mcu_argv(model_path, out)[:-2]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["student.tflite"]
    assert "Firmware files" not in capsys.readouterr().out


@pytest.mark.parametrize("in_the_way", ["student.cc", "student_op_resolver.h"])
def test_cli_refused_run_writes_nothing(tmp_path, capsys, monkeypatch, in_the_way):
    from keras_kd_cli import export as export_cli

    model_path = _saved_sample_model(tmp_path)
    folder = tmp_path / "fw"
    folder.mkdir()
    (folder / in_the_way).mkdir()

    def never(*args, **kwargs):
        pytest.fail("the model was converted")

    monkeypatch.setattr(export_cli, "to_tflite", never)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_mcu_argv(model_path, folder / "student.tflite"))
    assert exit_info.value.code == 2
    assert "would replace folders" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == [in_the_way]
    assert list((folder / in_the_way).iterdir()) == []


def test_cli_refuses_an_out_ending_in_cc(tmp_path, capsys):
    model_path = _saved_sample_model(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_mcu_argv(model_path, tmp_path / "student.cc"))
    assert exit_info.value.code == 2
    assert "must not end in .cc or .h" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.keras"]


def _two_input_model():
    """An image and a metadata vector: each input gets its own int8 scale."""
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((6, 6, 3), name="image")
    meta = keras.Input((4,), name="meta")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(image))
    x = keras.layers.Concatenate()([x, keras.layers.Dense(4, activation="relu")(meta)])
    return keras.Model([image, meta], keras.layers.Dense(3)(x))


def test_each_input_of_a_two_input_model_gets_its_constants_in_file_order(tmp_path):
    rng = np.random.default_rng(0)
    x = [rng.uniform(0, 255, (16, 6, 6, 3)), rng.normal(0, 2, (16, 4))]
    path = tmp_path / "two.tflite"
    to_tflite(_two_input_model(), path, quantization="int8", representative_data=x)
    files = write_firmware_files(path)
    interpreter = Interpreter(model_path=str(path))
    details = interpreter.get_input_details()  # TFLite-Micro's order
    runner = interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))
    by_index = {d["index"]: name for name, d in runner.get_input_details().items()}
    assert files.input_names == [by_index[d["index"]] for d in details]
    assert sorted(files.input_names) == ["image", "meta"]
    header = open(files.header).read()
    for i, detail in enumerate(details):
        scale, zero_point = detail["quantization"]
        assert files.input_quantization[i] == (scale, zero_point)
        written = re.search(rf"constexpr float g_model_input{i}_scale = ([-+.\deE]+)f;", header)
        assert np.float32(float(written.group(1))) == np.float32(scale)
        assert f"constexpr int g_model_input{i}_zero_point = {zero_point};" in header
        assert f"input {i} ('{files.input_names[i]}', interpreter.input({i}))" in header
    assert "g_model_input_scale" not in header
    summary = "\n".join(files.summary())
    assert f"input 0 '{files.input_names[0]}'" in summary and "input 1" in summary
