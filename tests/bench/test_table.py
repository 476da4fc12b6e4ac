import json

from keras_kd.bench.table import markdown_table


def _record(folder, method, accuracy, parameters):
    record = {
        "method": method,
        "status": "ok",
        "validation_accuracy": accuracy,
        "parameters": parameters,
        "int8_bytes": 1024,
        "int8_litert_accuracy": accuracy,
        "int8_micro_accuracy": accuracy,
        "int8_check_keras_accuracy": accuracy,
        "int8_check_samples": 10,
        "epochs": 1,
        "seconds": 1.0,
    }
    (folder / f"{method}.json").write_text(json.dumps(record))


def test_born_again_is_compared_with_its_own_architecture_alone(tmp_path):
    _record(tmp_path, "student_alone", 0.70, 100)
    _record(tmp_path, "kd", 0.75, 100)
    _record(tmp_path, "resnet20_alone", 0.78, 300)
    _record(tmp_path, "born_again", 0.80, 300)
    rows = {
        line.split(" | ")[0][2:]: line.split(" | ")
        for line in markdown_table(tmp_path).splitlines()
    }
    assert rows["kd"][2] == "+5.00"
    assert rows["resnet20_alone"][2] == "+0.00"
    assert rows["born_again"][2] == "+2.00 (vs resnet20_alone)"
