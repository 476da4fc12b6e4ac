"""The benchmark's rows: one student recipe per method, same protocol for all.

Teacher and student come from the protocol (`keras_kd.bench.protocols`);
every protocol pairs CIFAR ResNets, which tap ``stage1``..``stage3``,
``stage{i}_preact`` and ``pool`` with equal channel counts, so every method
finds its layers. Loss weights follow RepDistiller's CIFAR protocol
(REFERENCES.md): KD T=4, CE 0.1 / KD 0.9; feature methods CE 1 plus FitNet
100, AT 1000, NST 50, RKD 1, FT 200. The two-stage methods first run an
initialization stage (`Protocol.init_stage_epochs`; RepDistiller: 30 extra
epochs on a 240-epoch run) on the unweighted init loss, as RepDistiller's
``helper/pretrain.py`` does (AB with its own layer weights and 3/1000 scale,
see `ActivationBoundary`), at the main learning rate except FT's paraphraser
(0.01 there for ResNets and WRNs).
"""

from keras_kd import distillers

STAGES = ["stage1", "stage2", "stage3"]
PREACTS = [f"{s}_preact" for s in STAGES]
# Taps as RepDistiller's: NST on its feat[1:-1] (the three stages), FSP on
# feat[:-1] (the stem and the three stages: three consecutive pairs).
FSP_TAPS = ["stem", *STAGES]
# Gradient-based AT: no published beta for this input scale. On raw 0..255
# inputs the beta=1 term is ~0.012 against a cross-entropy of ~2.4 at
# initialization (python benchmarks/gradient_at_scale.py: beta 192 equalizes
# them), so beta = 200 makes the two comparable. A first run with 1e4 let the
# term dominate (18.0% on the sample).
GRADIENT_AT_WEIGHT = 200.0


INIT_LEARNING_RATES = {"ft": 0.01}
# Beta(alpha, alpha) of function matching's mixup: the authors' configs use
# Dirichlet(1, 1), a uniform mixing coefficient.
FUNCTION_MATCHING_MIXUP_ALPHA = 1.0


def _offline(cls, **kwargs):
    def build(teacher, student, init_epochs=None):
        extra = {} if init_epochs is None else {"init_epochs": init_epochs}
        return cls(student=student(), teacher=teacher, **kwargs, **extra)

    return build


# name -> (builder(teacher, student factory) -> trainer, init stage or None,
#          needs augmentation, hyperparameters)
ROWS = {
    "student_alone": (None, None, False, {}),
    "student_alone_augmented": (None, None, True, {"augmentation": "pad-4 crop + flip"}),
    "kd": (
        _offline(distillers.KD, temperature=4.0, task_weight=0.1, kd_weight=0.9),
        None,
        False,
        {"T": 4, "ce": 0.1, "kd": 0.9},
    ),
    "fitnet": (
        _offline(
            distillers.FitNet,
            student_layers=["stage2"],
            teacher_layers=["stage2"],
            feature_weight=100.0,
        ),
        None,
        False,
        {
            "layers": "stage2",
            "ce": 1,
            "hint": 100,
            "regressor": "conv+BN+ReLU",
            "form": "one-stage",
        },
    ),
    "at": (
        _offline(
            distillers.AttentionTransfer,
            student_layers=STAGES,
            teacher_layers=STAGES,
            feature_weight=1000.0,
        ),
        None,
        False,
        {"layers": STAGES, "ce": 1, "beta": 1000},
    ),
    "at_gradient": (
        _offline(distillers.GradientAttentionTransfer, feature_weight=GRADIENT_AT_WEIGHT),
        None,
        False,
        {"ce": 1, "beta": GRADIENT_AT_WEIGHT, "term": "beta/2 * ||J_S - J_T||"},
    ),
    "nst": (
        _offline(distillers.NST, student_layers=STAGES, teacher_layers=STAGES, feature_weight=50.0),
        None,
        False,
        {"layers": STAGES, "ce": 1, "nst": 50},
    ),
    "ft": (
        _offline(
            distillers.FactorTransfer,
            student_layers=["stage3"],
            teacher_layers=["stage3"],
            feature_weight=200.0,
            form="repdistiller",
        ),
        "init",
        False,
        {
            "layers": "stage3",
            "ce": 1,
            "ft": 200,
            "form": "repdistiller",
            "rate": 0.5,
            "init_lr": 0.01,
        },
    ),
    "ab": (
        _offline(distillers.ActivationBoundary, student_layers=PREACTS, teacher_layers=PREACTS),
        "init",
        False,
        {"layers": PREACTS, "margin": 1.0, "ab": "3/1000 * 2^(i-n+1) per layer"},
    ),
    "fsp": (
        _offline(distillers.FSP, student_layers=FSP_TAPS, teacher_layers=FSP_TAPS),
        "init",
        False,
        {"layers": FSP_TAPS, "fsp_init": 1},
    ),
    "rkd": (
        _offline(distillers.RKD, student_layers=["pool"], teacher_layers=["pool"]),
        None,
        False,
        {"layers": "pool", "ce": 1, "rkd": 1, "distance": 25, "angle": 50},
    ),
    "dml": (
        lambda teacher, student: distillers.DeepMutualLearning(peers=[student(), student()]),
        None,
        False,
        {"peers": 2, "T": 1, "reported": "peer 0"},
    ),
    "one": (
        lambda teacher, student: distillers.ONE(student(), cut_layer="stage2", branches=3),
        None,
        False,
        {"cut": "stage2", "branches": 3, "T": 3, "reported": "branch 0"},
    ),
    "byot": (
        lambda teacher, student: distillers.BYOT(
            student(), exit_layers=["stage1", "stage2"], deep_layer="stage3"
        ),
        None,
        False,
        {
            "exits": ["stage1", "stage2"],
            "T": 3,
            "ce": 0.7,
            "kd": 0.3,
            "lambda": 0.03,
            "reported": "deepest exit",
        },
    ),
    # Beyond the lecture, with the authors' CIFAR-100 settings.
    "dkd": (
        _offline(distillers.DKD, alpha=1.0, beta=8.0, temperature=4.0, warmup_epochs=1),
        None,
        False,
        {"ce": 1, "alpha": 1, "beta": 8, "T": 4, "warmup_epochs": 1},
    ),
    "dist": (
        _offline(distillers.DIST, temperature=4.0, feature_weight=2.0),
        None,
        False,
        {"ce": 1, "dist": 2, "beta": 1, "gamma": 1, "tau": 4},
    ),
    # Function matching with the authors' ImageNet settings (big_vision
    # configs/proj/distill/bit_i1k.py): KL only at T = 1, no labels, mixup from
    # Dirichlet(1, 1) = Beta(1, 1); pad-4 crop + flip stand in for the paper's
    # Inception crop on 32x32 images. The views are drawn inside the distiller,
    # so the row takes the data unaugmented (and the teacher runs every step).
    "function_matching": (
        _offline(
            distillers.FunctionMatching,
            temperature=1.0,
            kd_weight=1.0,
            task_weight=0.0,
            mixup_alpha=FUNCTION_MATCHING_MIXUP_ALPHA,
        ),
        None,
        False,
        {
            "T": 1,
            "kd": 1,
            "ce": 0,
            "mixup_alpha": FUNCTION_MATCHING_MIXUP_ALPHA,
            "views": "pad-4 crop + flip + mixup, the same view for teacher and student",
            "schedule": "the paper's gains need very long schedules (up to 9600 ImageNet "
            "epochs); the cpu protocol's 10 epochs show little of them",
        },
    ),
    "kd_logit_standardization": (
        _offline(
            distillers.KD,
            temperature=2.0,
            task_weight=0.1,
            kd_weight=9.0,
            logit_standardization=True,
        ),
        None,
        False,
        {"T": 2, "ce": 0.1, "kd": 9, "logit_standardization": True},
    ),
    # Method + KD (RepDistiller's "+KD" form: CE 0.1, KD 0.9 besides the method's term).
    "at_kd": (
        _offline(
            distillers.AttentionTransfer,
            student_layers=STAGES,
            teacher_layers=STAGES,
            feature_weight=1000.0,
            task_weight=0.1,
            kd_weight=0.9,
        ),
        None,
        False,
        {"layers": STAGES, "ce": 0.1, "kd": 0.9, "T": 4, "beta": 1000},
    ),
    "nst_kd": (
        _offline(
            distillers.NST,
            student_layers=STAGES,
            teacher_layers=STAGES,
            feature_weight=50.0,
            task_weight=0.1,
            kd_weight=0.9,
        ),
        None,
        False,
        {"layers": STAGES, "ce": 0.1, "kd": 0.9, "T": 4, "nst": 50},
    ),
}
# Born-Again trains the teacher's architecture; its baseline is that
# architecture alone under the same protocol (the runner trains both).
SPECIAL_ROWS = {
    "resnet20_alone": {"architecture": "resnet20", "note": "baseline of born_again"},
    "born_again": {"generations": 2, "architecture": "resnet20"},
}
ALL_ROWS = [*ROWS, *SPECIAL_ROWS]
