"""Regenerates tests/reference/values.json and tests/reference/inputs.npz.

The expected numbers come from outside keras_kd: the reference PyTorch code of
each method (RepDistiller's ``distiller_zoo`` and the authors' repositories),
run on fixed inputs, or, where no such code exists, the paper's closed form
computed here with torch. This script imports neither keras_kd nor
TensorFlow, and the tests never run it: they only read the stored numbers.

Inputs are stored channels-last (NHWC) with the teacher first, keras_kd's
convention; they are transposed to NCHW and passed student first where the
reference code expects it. Reference values are computed in float64 from the
stored float32 inputs.

torch and git are needed (torch is not a project dependency): install a
CPU build of torch in a separate environment, e.g.
``python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install numpy torch
--index-url https://download.pytorch.org/whl/cpu`` (or ``pip install --no-deps``
a local ``torch-*+cpu`` wheel plus filelock, sympy, networkx, jinja2, fsspec and
typing-extensions), and run this script with that interpreter.

Usage::

    # 1. Put the pinned reference files under REFCODE (once), from local git
    #    mirrors named MIRRORS/<owner>+<name>/... of the repositories below:
    python tests/reference/make_reference_values.py extract --mirrors MIRRORS --refcode REFCODE
    # 2. Compute and write the numbers:
    python tests/reference/make_reference_values.py generate --refcode REFCODE

The reference code is never copied into this repository; it is read from
REFCODE at run time.
"""

import argparse
import ast
import contextlib
import importlib.util
import json
import subprocess
import sys
import types
import typing
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20240613

# Every reference file used, pinned by commit. ``key`` names the folder under REFCODE.
SOURCES = {
    "repdistiller": {
        "repo": "HobbitLong/RepDistiller",
        "commit": "b84f547c5db6a35318d4671d7d5c4de74c822403",
        "files": [
            "distiller_zoo/__init__.py",
            "distiller_zoo/AB.py",
            "distiller_zoo/AT.py",
            "distiller_zoo/CC.py",
            "distiller_zoo/FitNet.py",
            "distiller_zoo/FSP.py",
            "distiller_zoo/FT.py",
            "distiller_zoo/KD.py",
            "distiller_zoo/KDSVD.py",
            "distiller_zoo/NST.py",
            "distiller_zoo/PKT.py",
            "distiller_zoo/RKD.py",
            "distiller_zoo/SP.py",
            "distiller_zoo/VID.py",
            "crd/__init__.py",
            "crd/criterion.py",
            "crd/memory.py",
        ],
    },
    "attention_transfer": {
        "repo": "szagoruyko/attention-transfer",
        "commit": "893df5488f93691799f082a70e2521a9dc2ddf2d",
        "files": ["utils.py"],
    },
    "factor_transfer": {
        "repo": "Jangho-Kim/Factor-Transfer-pytorch",
        "commit": "19cce265ebe51c751481041e223a13be2e684322",
        "files": ["utils.py"],
    },
    "ab_distillation": {
        "repo": "bhheo/AB_distillation",
        "commit": "a7701d3506e13da87bda75aba1cee6397408144f",
        "files": ["cifar10_AB_distillation.py"],
    },
    "dml": {
        "repo": "YingZhangDUT/Deep-Mutual-Learning",
        "commit": "34a20583debe4e0dab1d9856db69bed278c5c011",
        "files": ["train_models.py"],
    },
    "one": {
        "repo": "Lan1991Xu/ONE_NeurIPS2018",
        "commit": "54afde30fe039c8bd66668f0d17944b451b8b189",
        "files": ["loss/__init__.py", "loss/kl_loss.py", "cifar_one.py"],
    },
    "byot": {
        "repo": "ArchipLab-LinfengZhang/pytorch-self-distillation-final",
        "commit": "47ca93b6a60baaaf127a762e9f19bc70f4f0ffed",
        "files": ["train.py"],
    },
    "mdistiller": {
        "repo": "megvii-research/mdistiller",
        "commit": "a08d46f10d6102bd6e3f258ca5ac880b020ea259",
        "files": ["mdistiller/distillers/DKD.py"],
    },
    # DIST's loss as hunto/DIST_KD@2418f18b1fedd7c2646a7b1b9a27d5c674c2170b pins it:
    # its ``classification`` folder is this repository, as a git submodule at this
    # commit (DIST_KD's own segmentation/losses/dist_kd.py has no temperature).
    "dist_kd": {
        "repo": "hunto/image_classification_sota",
        "commit": "d9662f7df68fe46b973c4580b7c9b896cedcd301",
        "files": ["lib/models/losses/dist_kd.py"],
    },
    "logit_standardization": {
        "repo": "sunshangquan/logit-standardization-KD",
        "commit": "f6e5aa5172bad618e801163c3385322eea673754",
        "files": ["mdistiller/distillers/KD.py", "mdistiller/distillers/DKD.py"],
    },
    "wttm": {
        "repo": "zkxufo/TTM",
        "commit": "fe457b33a71ba27536ec04fe3d32c5b04963522f",
        "files": ["distiller_zoo/wttm.py"],
    },
    "mlkd": {
        "repo": "Jin-Ying/Multi-Level-Logit-Distillation",
        "commit": "5ee473fcf193dfb00a0598b64d0acfe6ad58a482",
        "files": ["mdistiller/distillers/KD_ours.py"],
    },
    # CWD and PKD as implemented in mmrazor (ChannelWiseDivergence, PKDLoss).
    "mmrazor": {
        "repo": "open-mmlab/mmrazor",
        "commit": "90c7af1fdf35a606a2fceaaeb4b6be2f0dac4eb7",
        "files": ["mmrazor/models/losses/cwd.py", "mmrazor/models/losses/pkd_loss.py"],
    },
    "structured_kd": {
        "repo": "irfanICMLL/structure_knowledge_distillation",
        "commit": "ce208e1e5ba9177ecfc42519a2c64148d396fb71",
        "files": ["utils/criterion.py", "utils/utils.py"],
    },
    "trl": {
        "repo": "huggingface/trl",
        "commit": "f2cd57710ae345ea6428ae95363267fcf38a3dc8",
        "files": ["trl/experimental/gkd/gkd_trainer.py"],
    },
}

# The CIFAR-100 settings of the last three methods (read, not used here), at the
# commits above:
# - DKD: mdistiller/engine/cfg.py (CFG.DKD: CE_WEIGHT 1, ALPHA 1, BETA 8, T 4,
#   WARMUP 20); configs/cifar100/dkd/*.yaml override BETA for some pairs (2 or 6).
# - DIST: configs/strategies/distill/dist_cifar.yaml (kd: dist_t4, i.e. tau 4;
#   ori_loss_weight 1, kd_loss_weight 2) and lib/models/losses/kd_loss.py
#   (DIST(beta=1, gamma=1, tau=tau)).
# - Logit standardization: tools/train.py (--base-temp 2, --kd-weight 9: KD
#   weight and temperature for KD; DKD's ALPHA and BETA times 9, T 2) and
#   mdistiller/engine/cfg.py (CFG.KD.LOSS.CE_WEIGHT 0.1).
# - WTTM: README.md's WTTM example (--ttm_l 0.2 with weight -a 4, -r 1); the
#   per-pair values are in the paper's appendix A.4.
# - MLKD: configs/cifar100/ours/*.yaml set only the solver (batch 64, lr 0.025,
#   240 epochs), so mdistiller/engine/cfg.py's CFG.KD applies: T 4, CE 0.1, KD 0.9.
# - CWD: configs/distill/mmseg/cwd/*.py (tau 1, loss_weight 5) and mmdet/cwd
#   (tau 1, loss_weight 10 per FPN level).
# - PKD: configs/distill/mmdet/pkd/*.py (loss_weight 6 or 10 per FPN level,
#   resize_stu True).
# - Structured KD pair-wise term: utils/train_options.py (--pool-scale 0.5,
#   --lambda-pa 1.0) and run_train_val.sh (--lambda-pa 0.5, --pool-scale 0.5).
# - GKD (TRL): trl/experimental/gkd/gkd_config.py (beta 0.5, lmbda 0.5; its
#   temperature 0.9 is for sampling: gkd_trainer.py calls generalized_jsd_loss
#   without one, i.e. 1).


# ----------------------------------------------------------------------------
# Fetching the pinned reference files
# ----------------------------------------------------------------------------


def _git_dir(mirrors, repo):
    base = Path(mirrors) / repo.replace("/", "+")
    for candidate in (base / "repo" / ".git", base / "repo", base):
        if (candidate / "HEAD").exists() or (candidate / "objects").exists():
            return candidate
    raise SystemExit(f"No git mirror of {repo} under {base}")


def extract(mirrors, refcode):
    for key, source in SOURCES.items():
        git_dir = _git_dir(mirrors, source["repo"])
        for name in source["files"]:
            text = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"{source['commit']}:{name}"],
                check=True,
                capture_output=True,
            ).stdout
            target = Path(refcode) / key / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text)
    print(f"Reference files written under {refcode}")


# ----------------------------------------------------------------------------
# Loading reference code at run time
# ----------------------------------------------------------------------------


def load_function(path, name, namespace):
    """Compiles the top-level function (or class) ``name`` of the file at ``path`` alone.

    Training scripts run their training when imported, and some files import
    what a loss does not need (MLKD's imports turtle, which needs Tk); only the
    loss is needed, so it is taken out of the parsed module and executed in
    ``namespace`` (the names it uses: torch, F, args, a base class, ...).
    """
    tree = ast.parse(Path(path).read_text())
    kinds = (ast.FunctionDef, ast.ClassDef)
    nodes = [n for n in tree.body if isinstance(n, kinds) and n.name == name]
    if len(nodes) != 1:
        raise SystemExit(f"Expected one function or class {name!r} in {path}")
    module = ast.Module(body=nodes, type_ignores=[])
    scope = dict(namespace)
    exec(compile(module, str(path), "exec"), scope)  # noqa: S102 - pinned reference code
    return scope[name]


def load_functions(path, names, namespace):
    """``load_function`` for several functions of one file, in order: each one
    sees the ones loaded before it (helpers first)."""
    scope = dict(namespace)
    for name in names:
        scope[name] = load_function(path, name, scope)
    return scope


def load_module(path):
    """Imports a self-contained reference file (only third-party imports)."""
    spec = importlib.util.spec_from_file_location(f"reference_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_method(path, class_name, name, namespace):
    """A method of a class, compiled alone as a plain function (its decorators,
    e.g. ``@staticmethod``, dropped): TRL's loss is a static method of a
    trainer whose module imports transformers, accelerate and more."""
    tree = ast.parse(Path(path).read_text())
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    if len(classes) != 1:
        raise SystemExit(f"Expected one class {class_name!r} in {path}")
    nodes = [n for n in classes[0].body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(nodes) != 1:
        raise SystemExit(f"Expected one method {class_name}.{name} in {path}")
    nodes[0].decorator_list = []
    scope = dict(namespace)
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), scope)  # noqa: S102
    return scope[name]


class _Registry:
    """Stands in for mmrazor's ``MODELS`` registry: ``register_module()`` is the identity."""

    @staticmethod
    def register_module():
        return lambda cls: cls


@contextlib.contextmanager
def float_as_noop(torch):
    """The structured-KD authors' ``similarity`` casts with ``feat.float()``
    (float32); during the call it is the identity, so the reference stays float64."""
    original = torch.Tensor.float
    torch.Tensor.float = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.float = original


@contextlib.contextmanager
def quiet_deprecations():
    """mdistiller's DKD calls ``F.kl_div(..., size_average=False)`` (= reduction
    "sum"), which torch still accepts with a deprecation warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="size_average and reduce args")
        yield


@contextlib.contextmanager
def cuda_as_noop(torch):
    """The ONE authors' loss moves its target with ``.cuda()``; on a CPU the
    move is replaced by the identity for the duration of the call."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = original


def tf1_shim(torch):
    """The four TF1 ops used by the DML authors' ``kl_loss_compute``, in torch."""

    def reduce_sum(x, axis=None):
        return x.sum() if axis is None else x.sum(axis)

    def reduce_mean(x, axis=None):
        return x.mean() if axis is None else x.mean(axis)

    return types.SimpleNamespace(
        nn=types.SimpleNamespace(softmax=lambda x: torch.softmax(x, dim=-1)),
        log=torch.log,
        reduce_sum=reduce_sum,
        reduce_mean=reduce_mean,
    )


class Reference:
    """The reference functions, loaded from REFCODE."""

    def __init__(self, refcode):
        import torch
        import torch.nn.functional as F  # noqa: N812 - torch's own spelling

        self.torch, self.nnf = torch, F
        root = Path(refcode)
        sys.path.insert(0, str(root / "repdistiller"))
        import distiller_zoo

        self.zoo = distiller_zoo
        from crd.criterion import ContrastLoss, Normalize
        from crd.memory import ContrastMemory

        self.crd_loss_class, self.crd_memory_class = ContrastLoss, ContrastMemory
        self.crd_normalize = Normalize(2)
        at_utils = root / "attention_transfer" / "utils.py"
        at_scope = {"F": F, "torch": torch}
        at_scope["at"] = load_function(at_utils, "at", at_scope)
        self.authors_at_loss = load_function(at_utils, "at_loss", at_scope)
        self.authors_ft = load_function(root / "factor_transfer" / "utils.py", "FT", {"F": F})
        self.authors_ab = load_function(
            root / "ab_distillation" / "cifar10_AB_distillation.py",
            "criterion_alternative_L2",
            {"torch": torch},
        )
        self.dml_kl = load_function(
            root / "dml" / "train_models.py", "kl_loss_compute", {"tf": tf1_shim(torch)}
        )
        sys.path.insert(0, str(root / "one"))
        from loss.kl_loss import KLLoss

        self.one_kl = KLLoss()
        self.byot_soft_ce = load_function(
            root / "byot" / "train.py",
            "CrossEntropy",
            {"F": F, "args": types.SimpleNamespace(temperature=3.0)},
        )
        self.dkd = load_functions(
            root / "mdistiller" / "mdistiller" / "distillers" / "DKD.py",
            ["_get_gt_mask", "_get_other_mask", "cat_mask", "dkd_loss"],
            {"torch": torch, "F": F},
        )["dkd_loss"]
        dist_kd = load_module(root / "dist_kd" / "lib" / "models" / "losses" / "dist_kd.py")
        self.dist_class = dist_kd.DIST
        ls_dir = root / "logit_standardization" / "mdistiller" / "distillers"
        ls_kd = load_functions(ls_dir / "KD.py", ["normalize", "kd_loss"], {"F": F})
        self.ls_normalize, self.ls_kd = ls_kd["normalize"], ls_kd["kd_loss"]
        self.ls_dkd = load_functions(
            ls_dir / "DKD.py",
            ["normalize", "_get_gt_mask", "_get_other_mask", "cat_mask", "dkd_loss"],
            {"torch": torch, "F": F},
        )["dkd_loss"]
        self.wttm_class = load_module(root / "wttm" / "distiller_zoo" / "wttm.py").WTTM
        mlkd_file = root / "mlkd" / "mdistiller" / "distillers" / "KD_ours.py"
        mlkd_scope = load_functions(
            mlkd_file,
            ["kd_loss", "cc_loss", "bc_loss"],
            {
                "torch": torch,
                "F": F,
                "np": np,
                "Distiller": object,
                "CrossEntropyLabelSmooth": None,
            },
        )
        self.mlkd_class = load_function(mlkd_file, "KD_ours", mlkd_scope)
        mmrazor_scope = {"torch": torch, "nn": torch.nn, "F": F, "MODELS": _Registry}
        # The typing names mmrazor's annotations use (evaluated when the class is built).
        mmrazor_scope.update({name: getattr(typing, name) for name in ("Tuple", "Union")})
        losses = root / "mmrazor" / "mmrazor" / "models" / "losses"
        self.cwd_class = load_function(losses / "cwd.py", "ChannelWiseDivergence", mmrazor_scope)
        self.pkd_class = load_function(losses / "pkd_loss.py", "PKDLoss", mmrazor_scope)
        skd_utils = load_functions(
            root / "structured_kd" / "utils" / "utils.py",
            ["L2", "similarity", "sim_dis_compute"],
            {"torch": torch},
        )
        self.pairwise_class = load_function(
            root / "structured_kd" / "utils" / "criterion.py",
            "CriterionPairWiseforWholeFeatAfterPool",
            {"nn": torch.nn, "sim_dis_compute": skd_utils["sim_dis_compute"]},
        )
        self.trl_jsd = load_method(
            root / "trl" / "trl" / "experimental" / "gkd" / "gkd_trainer.py",
            "GKDTrainer",
            "generalized_jsd_loss",
            {"torch": torch, "F": F},
        )


# ----------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------


def check_guard_only(what, authors, exact):
    """The authors' numerical guards (epsilons) may move a value only slightly."""
    if abs(float(authors) - float(exact)) > 1e-4 * abs(float(exact)):
        raise SystemExit(f"{what}: the authors' code gives {authors}, the closed form {exact}")


def source(key, file, function, note=None):
    entry = {
        "repo": SOURCES[key]["repo"],
        "commit": SOURCES[key]["commit"],
        "file": file,
        "function": function,
    }
    if note:
        entry["note"] = note
    return entry


def closed_form(paper, formula):
    return {"repo": None, "paper": paper, "formula": formula}


class Builder:
    def __init__(self, ref):
        self.ref = ref
        self.rng = np.random.default_rng(SEED)
        self.arrays = {}
        self.cases = {}

    # -- inputs ---------------------------------------------------------------

    def normal(self, shape, scale=1.0):
        return (scale * self.rng.standard_normal(shape)).astype(np.float32)

    def relu_feature(self, shape):
        """Post-ReLU-like features: non-negative, about half zeros."""
        return np.maximum(self.normal(shape), 0.0).astype(np.float32)

    def labels(self, batch, classes):
        return self.rng.integers(0, classes, batch).astype(np.int32)

    def store(self, case, **inputs):
        keys = {}
        for name, value in inputs.items():
            key = f"{case}__{name}"
            self.arrays[key] = np.asarray(value)
            keys[name] = key
        return keys

    # -- conversions ----------------------------------------------------------

    def t(self, x):
        """float64 torch tensor of a stored array (labels stay integer)."""
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.integer):
            return self.ref.torch.as_tensor(x.astype(np.int64))
        return self.ref.torch.as_tensor(x.astype(np.float64))

    def nchw(self, x):
        """NHWC array -> float64 NCHW tensor (RepDistiller's layout)."""
        return self.t(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))

    def add(self, name, inputs, params, values, src, note=None):
        case = {"inputs": inputs, "params": params, **values, "source": src}
        if note:
            case["note"] = note
        self.cases[name] = case

    # -- losses -----------------------------------------------------------------

    def kd(self):
        zoo = self.ref.zoo
        for name, temperature in (("kd_loss", 4.0), ("kd_loss_t1", 1.0)):
            teacher, student = self.normal((4, 10), 3.0), self.normal((4, 10), 3.0)
            value = zoo.DistillKL(temperature)(self.t(student), self.t(teacher))
            self.add(
                name,
                self.store(name, teacher_logits=teacher, student_logits=student),
                {"temperature": temperature},
                {"value": float(value)},
                source("repdistiller", "distiller_zoo/KD.py", "DistillKL(T).forward(y_s, y_t)"),
            )

    def cross_entropy(self):
        nnf = self.ref.nnf
        logits, labels = self.normal((4, 10), 2.0), self.labels(4, 10)
        value = nnf.cross_entropy(self.t(logits), self.t(labels))
        self.add(
            "task_cross_entropy",
            self.store("task_cross_entropy", logits=logits, labels=labels),
            {},
            {"value": float(value)},
            closed_form("-", "torch.nn.functional.cross_entropy(logits, labels), batch mean"),
            note="The task term (CE) every distiller logs; labels are class indices.",
        )

    def hint(self):
        teacher, student = self.normal((4, 4, 4, 8)), self.normal((4, 4, 4, 8))
        value = self.ref.zoo.HintLoss()(self.nchw(student), self.nchw(teacher))
        self.add(
            "hint_loss",
            self.store("hint_loss", teacher_feat=teacher, student_feat=student),
            {},
            {"value": float(value)},
            source("repdistiller", "distiller_zoo/FitNet.py", "HintLoss().forward(f_s, f_t)"),
        )

    def attention(self):
        ref = self.ref
        cases = {
            "attention_transfer_loss": ((4, 8, 8, 16), (4, 8, 8, 8)),
            "attention_transfer_loss_pooled": ((4, 4, 4, 16), (4, 8, 8, 8)),
        }
        for name, (t_shape, s_shape) in cases.items():
            teacher, student = self.relu_feature(t_shape), self.relu_feature(s_shape)
            value = ref.zoo.Attention(p=2).at_loss(self.nchw(student), self.nchw(teacher))
            extra = {}
            if t_shape[1:3] == s_shape[1:3]:
                authors = ref.authors_at_loss(self.nchw(student), self.nchw(teacher))
                extra["value_authors_code"] = float(authors)
                assert abs(float(authors) - float(value)) < 1e-12
            self.add(
                name,
                self.store(name, teacher_feat=teacher, student_feat=student),
                {"p": 2},
                {"value": float(value), **extra},
                source(
                    "repdistiller",
                    "distiller_zoo/AT.py",
                    "Attention(p=2).at_loss(f_s, f_t)",
                    note="Same value as the authors' utils.at_loss "
                    "(szagoruyko/attention-transfer@893df54) where no pooling is needed.",
                ),
            )
        # Several tap pairs: RepDistiller returns one loss per pair; its training
        # loop sums them (times beta). keras_kd's AttentionTransfer "at" term is
        # the same sum, before distill_weight.
        t_feats = [self.relu_feature((4, 8, 8, 8)), self.relu_feature((4, 4, 4, 16))]
        s_feats = [self.relu_feature((4, 8, 8, 4)), self.relu_feature((4, 4, 4, 8))]
        per_pair = ref.zoo.Attention(p=2)(
            [self.nchw(s) for s in s_feats], [self.nchw(t) for t in t_feats]
        )
        self.add(
            "attention_transfer_two_pairs",
            self.store(
                "attention_transfer_two_pairs",
                teacher_feat0=t_feats[0],
                teacher_feat1=t_feats[1],
                student_feat0=s_feats[0],
                student_feat1=s_feats[1],
            ),
            {"p": 2},
            {
                "value": float(sum(per_pair)),
                "per_pair": [float(v) for v in per_pair],
            },
            source(
                "repdistiller",
                "distiller_zoo/AT.py",
                "sum(Attention(p=2).forward(g_s, g_t))",
                note="The per-pair list is summed as in RepDistiller's train_student loop.",
            ),
        )

    def gradient_attention(self):
        torch, nnf = self.ref.torch, self.ref.nnf
        teacher_grad, student_grad = self.normal((4, 4, 4, 3), 0.1), self.normal((4, 4, 4, 3), 0.1)
        diff = self.t(student_grad).reshape(4, -1) - self.t(teacher_grad).reshape(4, -1)
        value = diff.norm(dim=1).mean()
        formula = "mean over batch of ||flatten(J_S) - flatten(J_T)||_2"
        self.add(
            "gradient_attention_loss",
            self.store(
                "gradient_attention_loss",
                teacher_input_grad=teacher_grad,
                student_input_grad=student_grad,
            ),
            {},
            {"value": float(value)},
            closed_form("Zagoruyko & Komodakis, ICLR 2017, section 3.2", formula),
            note="No authors' code: attention-transfer's README lists grad-based AT as "
            "'Coming' (attention-transfer@893df54).",
        )

        # End to end on linear models (Flatten + Dense on NHWC inputs): the input
        # gradient of each network's summed cross-entropy, taken with torch
        # autograd, then the term the AttentionTransfer distiller logs (beta/2
        # applied as 0.5 before distill_weight).
        batch, classes = 4, 5
        x = self.rng.uniform(0.0, 1.0, (batch, 4, 4, 3)).astype(np.float32)
        y = self.labels(batch, classes)
        kernels = {
            "teacher": (self.normal((48, classes), 0.5), self.normal((classes,), 0.1)),
            "student": (self.normal((48, classes), 0.5), self.normal((classes,), 0.1)),
        }
        grads, task = {}, {}
        for who, (kernel, bias) in kernels.items():
            with torch.enable_grad():
                inputs = self.t(x).requires_grad_(True)
                logits = inputs.reshape(batch, -1) @ self.t(kernel) + self.t(bias)
                ce = nnf.cross_entropy(logits, self.t(y), reduction="sum")
                (grads[who],) = torch.autograd.grad(ce, inputs)
            task[who] = ce.detach() / batch
        diff = (grads["student"] - grads["teacher"]).reshape(batch, -1)
        loss = diff.norm(dim=1).mean()
        self.add(
            "gradient_attention_linear",
            self.store(
                "gradient_attention_linear",
                x=x,
                y=y,
                teacher_kernel=kernels["teacher"][0],
                teacher_bias=kernels["teacher"][1],
                student_kernel=kernels["student"][0],
                student_bias=kernels["student"][1],
                teacher_input_grad=grads["teacher"].numpy().astype(np.float32),
                student_input_grad=grads["student"].numpy().astype(np.float32),
            ),
            {"beta_over_2": 0.5},
            {
                "value": float(loss),
                "at_term": float(0.5 * loss),
                "task": float(task["student"]),
            },
            closed_form(
                "Zagoruyko & Komodakis, ICLR 2017, section 3.2",
                "J = d(sum_b CE)/dx by torch autograd for logits = flatten(x) @ kernel + bias; "
                "value = " + formula + "; at_term = value / 2",
            ),
            note="Linear models: Keras Flatten + Dense(kernel, bias) on the NHWC x give the "
            "same logits. The stored input gradients are float32 copies.",
        )

    def nst(self):
        cases = {
            "nst_loss": ((4, 4, 4, 6), (4, 4, 4, 5)),
            "nst_loss_pooled": ((4, 8, 8, 6), (4, 4, 4, 5)),
        }
        for name, (t_shape, s_shape) in cases.items():
            teacher, student = self.relu_feature(t_shape), self.relu_feature(s_shape)
            value = self.ref.zoo.NSTLoss().nst_loss(self.nchw(student), self.nchw(teacher))
            self.add(
                name,
                self.store(name, teacher_feat=teacher, student_feat=student),
                {},
                {"value": float(value)},
                source("repdistiller", "distiller_zoo/NST.py", "NSTLoss().nst_loss(f_s, f_t)"),
            )

    def factor(self):
        nnf = self.ref.nnf
        teacher, student = self.normal((4, 4, 4, 8)), self.normal((4, 4, 4, 8))
        inputs = self.store("factor_transfer_loss", teacher_factor=teacher, student_factor=student)
        ft = self.ref.authors_ft
        # The authors' training loop: BETA * nn.L1Loss()(FT(factor_s), FT(factor_t)).
        # The flattening order (NCHW there, NHWC here) does not change the value.
        paper = nnf.l1_loss(ft(self.nchw(student)), ft(self.nchw(teacher)))
        self.add(
            "factor_transfer_loss",
            inputs,
            {"p": 1},
            {"value": float(paper)},
            source(
                "factor_transfer",
                "utils.py (FT) and train_student.py (criterion = nn.L1Loss())",
                "nn.L1Loss()(FT(factor_s), FT(factor_t))",
                note="The paper's form: each factor flattened and l2-normalized per sample.",
            ),
        )
        repdistiller = self.ref.zoo.FactorTransfer(p1=2, p2=1)(
            self.nchw(student), self.nchw(teacher)
        )
        self.add(
            "factor_transfer_repdistiller",
            inputs,
            {"p1": 2, "p2": 1, "repdistiller_weight": 200.0},
            {"value": float(repdistiller)},
            source(
                "repdistiller",
                "distiller_zoo/FT.py",
                "FactorTransfer(p1=2, p2=1).forward(f_s, f_t)",
                note="RepDistiller's form: mean over channels of F^2, l2-normalized per "
                "sample over H*W, then mean |difference|. Its CIFAR weight is 200 "
                "(train_student.py --beta for ft). Same inputs as factor_transfer_loss; "
                "keras_kd has no function for this form yet.",
            ),
        )

    def boundary(self):
        zoo, authors = self.ref.zoo, self.ref.authors_ab
        # Values near 0 so that every hinge branch occurs.
        teacher, student = self.normal((4, 4, 4, 8), 1.5), self.normal((4, 4, 4, 8), 1.5)
        inputs = self.store(
            "activation_boundary_loss", teacher_preact=teacher, student_preact=student
        )
        for name, margin in (("activation_boundary_loss", 1.0), ("activation_boundary_m05", 0.5)):
            s, t = self.nchw(student), self.nchw(teacher)
            criterion_sum = authors(s, t, margin)
            repdistiller = zoo.ABLoss(feat_num=1, margin=margin)([s], [t])[0]
            self.add(
                name,
                inputs,
                {"margin": margin},
                {
                    "value": float(criterion_sum / 4),
                    "criterion_sum": float(criterion_sum),
                    "value_repdistiller": float(repdistiller),
                },
                source(
                    "ab_distillation",
                    "cifar10_AB_distillation.py",
                    "criterion_alternative_L2(source, target, margin) / batch_size",
                    note="value = the authors' per-layer term before their '/ 1000 * 3'. "
                    "value_repdistiller = RepDistiller ABLoss(feat_num=1, margin)"
                    "([f_s], [f_t])[0] (distiller_zoo/AB.py) = value * 3 / 1000.",
                ),
            )
        # Two layers with RepDistiller's layer weights 2^(i - n + 1) and 3/1000:
        # the ActivationBoundary distiller's "ab" term with its defaults.
        t_feats = [self.normal((4, 8, 8, 4), 1.5), self.normal((4, 4, 4, 8), 1.5)]
        s_feats = [self.normal((4, 8, 8, 4), 1.5), self.normal((4, 4, 4, 8), 1.5)]
        per_layer = zoo.ABLoss(feat_num=2, margin=1.0)(
            [self.nchw(s) for s in s_feats], [self.nchw(t) for t in t_feats]
        )
        self.add(
            "activation_boundary_two_layers",
            self.store(
                "activation_boundary_two_layers",
                teacher_preact0=t_feats[0],
                teacher_preact1=t_feats[1],
                student_preact0=s_feats[0],
                student_preact1=s_feats[1],
            ),
            {"margin": 1.0, "layer_weights": [0.5, 1.0], "distill_weight": 3e-3},
            {"value": float(sum(per_layer)), "per_layer": [float(v) for v in per_layer]},
            source(
                "repdistiller",
                "distiller_zoo/AB.py",
                "sum(ABLoss(feat_num=2, margin=1.0).forward(g_s, g_t))",
                note="Includes RepDistiller's layer weights [0.5, 1] and its '/ 1000 * 3'.",
            ),
        )

    def fsp(self):
        zoo = self.ref.zoo
        t_feats = [
            self.relu_feature((4, 8, 8, 3)),
            self.relu_feature((4, 8, 8, 5)),
            self.relu_feature((4, 4, 4, 6)),
        ]
        s_feats = [
            self.relu_feature((4, 8, 8, 3)),
            self.relu_feature((4, 4, 4, 5)),
            self.relu_feature((4, 4, 4, 6)),
        ]
        s_nchw = [self.nchw(s) for s in s_feats]
        t_nchw = [self.nchw(t) for t in t_feats]
        fsp = zoo.FSP([s.shape for s in s_nchw], [t.shape for t in t_nchw])
        per_pair = fsp(s_nchw, t_nchw)
        # RepDistiller's compute_fsp gives (B, C2, C1); keras_kd's fsp_matrix (B, C1, C2).
        teacher_matrices = [m.transpose(1, 2).numpy() for m in fsp.compute_fsp(t_nchw)]
        self.add(
            "fsp_loss",
            self.store(
                "fsp_loss",
                **{f"teacher_feat{i}": f for i, f in enumerate(t_feats)},
                **{f"student_feat{i}": f for i, f in enumerate(s_feats)},
                teacher_fsp01=teacher_matrices[0],
                teacher_fsp12=teacher_matrices[1],
            ),
            {},
            {"value": float(sum(per_pair)), "per_pair": [float(v) for v in per_pair]},
            source(
                "repdistiller",
                "distiller_zoo/FSP.py",
                "sum(FSP(s_shapes, t_shapes).forward(g_s, g_t)); FSP.compute_fsp(g_t)",
                note="teacher_fsp01/12 are RepDistiller's compute_fsp matrices transposed to "
                "keras_kd's (batch, C1, C2) layout (float64 results stored as float64).",
            ),
        )

    def rkd(self):
        zoo = self.ref.zoo
        cases = {"rkd_loss": ((6, 16), (6, 8)), "rkd_loss_maps": ((6, 2, 2, 4), (6, 2, 2, 3))}
        for name, (t_shape, s_shape) in cases.items():
            teacher, student = self.normal(t_shape), self.normal(s_shape)
            to = self.nchw if len(t_shape) == 4 else self.t
            s, t = to(student), to(teacher)
            values = {
                "value": float(zoo.RKDLoss(25, 50)(s, t)),
                "distance": float(zoo.RKDLoss(1, 0)(s, t)),
                "angle": float(zoo.RKDLoss(0, 1)(s, t)),
            }
            self.add(
                name,
                self.store(name, teacher_emb=teacher, student_emb=student),
                {"distance_weight": 25.0, "angle_weight": 50.0},
                values,
                source(
                    "repdistiller",
                    "distiller_zoo/RKD.py",
                    "RKDLoss(w_d, w_a).forward(f_s, f_t)",
                    note="distance = RKDLoss(1, 0), angle = RKDLoss(0, 1). Feature maps are "
                    "flattened in NCHW order there and NHWC order in keras_kd: distances "
                    "and angles do not depend on the order of the features.",
                ),
            )

    # -- schemes ----------------------------------------------------------------

    def dml(self):
        nnf, zoo, dml_kl = self.ref.nnf, self.ref.zoo, self.ref.dml_kl
        peers = [self.normal((4, 10), 2.0) for _ in range(3)]
        labels = self.labels(4, 10)
        z = [self.t(p) for p in peers]
        values = {}
        for i in range(3):
            others = [j for j in range(3) if j != i]
            exact = [zoo.DistillKL(1.0)(z[i], z[j]) for j in others]
            # The authors' kl_loss_compute(logits_i, logits_j) = KL(p_j || p_i), with
            # 1e-8 guards inside its log.
            authors = [dml_kl(z[i], z[j]) for j in others]
            check_guard_only("DML KL", sum(authors), sum(exact))
            values[f"peer{i}_task"] = float(nnf.cross_entropy(z[i], self.t(labels)))
            values[f"peer{i}_kl"] = float(sum(exact) / len(exact))
            values[f"peer{i}_kl_authors_code"] = float(sum(authors) / len(authors))
            values[f"peer{i}_kl_sum_authors_code"] = float(sum(authors))
        self.add(
            "dml",
            self.store(
                "dml",
                peer0_logits=peers[0],
                peer1_logits=peers[1],
                peer2_logits=peers[2],
                labels=labels,
            ),
            {"temperature": 1.0, "task_weight": 1.0, "distill_weight": 1.0},
            values,
            {
                "repo": None,
                "paper": "Zhang, Xiang, Hospedales, Lu, CVPR 2018",
                "formula": "peer{i}_kl = mean_{j != i} KL(p_j || p_i); peer{i}_task = CE(y, z_i)",
                "terms_from": [
                    source("repdistiller", "distiller_zoo/KD.py", "DistillKL(1)(z_i, z_j)"),
                    source(
                        "dml",
                        "train_models.py",
                        "kl_loss_compute(logits_i, logits_j) (TF1; its four tf ops run "
                        "through a torch shim) for the *_authors_code values",
                    ),
                ],
            },
            note="The paper averages over the other peers (1/(K-1)); the authors' code sums "
            "(peer{i}_kl_sum_authors_code; the same for 2 peers). Their 1e-8 guards move "
            "the KL by a few 1e-5 relative (peer{i}_kl_authors_code).",
        )

    def one(self):
        torch, nnf, zoo = self.ref.torch, self.ref.nnf, self.ref.zoo
        branches = [self.normal((4, 10), 2.0) for _ in range(3)]
        gate = torch.softmax(self.t(self.normal((4, 3))), dim=1).numpy().astype(np.float32)
        labels = self.labels(4, 10)
        z = [self.t(b) for b in branches]
        g = self.t(gate)
        # The authors' ensemble: x_m = sum_i (gate[:, i] broadcast over classes) * x_3_i.
        ensemble = sum(g[:, i : i + 1] * z[i] for i in range(3))
        y = self.t(labels)
        with cuda_as_noop(torch):
            kd_authors = sum(self.ref.one_kl(z_i, ensemble) for z_i in z)
        kd = sum(zoo.DistillKL(3.0)(z_i, ensemble) for z_i in z)
        check_guard_only("ONE KL", kd_authors, kd)
        branch_task = sum(nnf.cross_entropy(z_i, y) for z_i in z)
        ensemble_task = nnf.cross_entropy(ensemble, y)
        self.add(
            "one",
            self.store(
                "one",
                branch0_logits=branches[0],
                branch1_logits=branches[1],
                branch2_logits=branches[2],
                gate=gate,
                labels=labels,
                ensemble_logits=ensemble.numpy(),
            ),
            {"temperature": 3.0, "task_weight": 1.0, "distill_weight": 1.0},
            {
                "branch_task": float(branch_task),
                "ensemble_task": float(ensemble_task),
                "kd": float(kd),
                "kd_authors_code": float(kd_authors),
                "total": float(branch_task + ensemble_task + kd),
            },
            {
                "repo": None,
                "paper": "Lan, Zhu, Gong, NeurIPS 2018",
                "formula": "branch_task = sum_i CE(y, z_i); ensemble_task = CE(y, z_e); "
                "kd = T^2 sum_i KL(p(z_e, T) || p(z_i, T)); z_e = sum_i g_i z_i",
                "terms_from": [
                    source("repdistiller", "distiller_zoo/KD.py", "DistillKL(3)(z_i, z_e)"),
                    source(
                        "one",
                        "loss/kl_loss.py; cifar_one.py (train)",
                        "sum_i KLLoss()(x_3_i, x_m) (T = 3 fixed there) for kd_authors_code",
                    ),
                ],
            },
            note="Full consistency weight (after the authors' 80-epoch ramp-up). The "
            "authors' KLLoss adds 1e-7 to the teacher probabilities (kd_authors_code, a few "
            "1e-6 relative off). ensemble_logits (float64) = sum_i gate[:, i] * branch_i, as "
            "in the authors' ONE_ResNet.forward.",
        )

    def byot(self):
        nnf, zoo = self.ref.nnf, self.ref.zoo
        deep = self.normal((4, 10), 2.0)
        exits = [self.normal((4, 10), 2.0) for _ in range(2)]
        labels = self.labels(4, 10)
        deep_feature = self.relu_feature((4, 2, 2, 8))
        exit_features = [self.normal((4, 2, 2, 8)) for _ in range(2)]
        temperature, alpha, feature_weight = 3.0, 0.3, 0.03
        y = self.t(labels)
        values = {"deep_task": float(nnf.cross_entropy(self.t(deep), y))}
        total = nnf.cross_entropy(self.t(deep), y)
        for i, (logits, feature) in enumerate(zip(exits, exit_features, strict=True)):
            task = nnf.cross_entropy(self.t(logits), y)
            kd = zoo.DistillKL(temperature)(self.t(logits), self.t(deep))
            feat = zoo.HintLoss()(self.nchw(feature), self.nchw(deep_feature))
            values[f"exit{i}_task"] = float(task)
            values[f"exit{i}_kd"] = float(kd)
            values[f"exit{i}_feature"] = float(feat)
            values[f"exit{i}_kd_authors_code"] = float(
                self.ref.byot_soft_ce(self.t(logits), self.t(deep))
            )
            values[f"exit{i}_feature_dist_authors_code"] = float(
                self.ref.torch.dist(self.nchw(feature), self.nchw(deep_feature))
            )
            total = total + (1 - alpha) * task + alpha * kd + feature_weight * feat
        values["total"] = float(total)
        self.add(
            "byot",
            self.store(
                "byot",
                deep_logits=deep,
                exit0_logits=exits[0],
                exit1_logits=exits[1],
                labels=labels,
                deep_feature=deep_feature,
                exit0_feature=exit_features[0],
                exit1_feature=exit_features[1],
            ),
            {"temperature": temperature, "alpha": alpha, "feature_weight": feature_weight},
            values,
            {
                "repo": None,
                "paper": "Zhang et al., ICCV 2019, eq. for each shallow classifier",
                "formula": "total = CE(y, z_deep) + sum_i [(1 - alpha) CE(y, z_i) "
                "+ alpha T^2 KL(p(z_deep, T) || p(z_i, T)) + lambda mean((F_i - F_deep)^2)]",
                "terms_from": [
                    source("repdistiller", "distiller_zoo/KD.py", "DistillKL(T)(z_i, z_deep)"),
                    source("repdistiller", "distiller_zoo/FitNet.py", "HintLoss()(F_i, F_deep)"),
                    source(
                        "byot",
                        "train.py",
                        "CrossEntropy(outputs, targets) (exit{i}_kd_authors_code); "
                        "torch.dist (exit{i}_feature_dist_authors_code)",
                    ),
                ],
            },
            note="The authors' final code differs from the paper's terms: its KD term is "
            "the soft cross-entropy -sum p(z_deep,T) log p(z_i,T) (= KL + teacher entropy, "
            "no T^2), and its feature term is torch.dist (the unsquared L2 norm over the "
            "whole batch) after a trainable linear adaptation layer, skipped for one exit. "
            "exit{i}_kd and exit{i}_feature follow the paper's terms with keras_kd's "
            "documented reductions (T^2 KL; mean of squares).",
        )

    # -- logit methods (added after the schemes) ----------------------------------

    def dkd(self):
        ref = self.ref
        cases = {
            "dkd_loss": {"temperature": 4.0, "alpha": 1.0, "beta": 8.0},
            "dkd_loss_a05_b2_t2": {"temperature": 2.0, "alpha": 0.5, "beta": 2.0},
        }
        for name, params in cases.items():
            teacher, student = self.normal((6, 5), 3.0), self.normal((6, 5), 3.0)
            labels = self.labels(6, 5)
            t, s, y = self.t(teacher), self.t(student), self.t(labels)
            temperature = params["temperature"]

            def authors(alpha, beta, rows=slice(None), s=s, t=t, y=y, temperature=temperature):
                return float(ref.dkd(s[rows], t[rows], y[rows], alpha, beta, temperature))

            value = authors(params["alpha"], params["beta"])
            # The logit-standardization authors' copy, standardization off, agrees.
            copy = ref.ls_dkd(s, t, y, params["alpha"], params["beta"], temperature, False)
            assert abs(float(copy) - value) <= 1e-12 * abs(value)
            self.add(
                name,
                self.store(name, teacher_logits=teacher, student_logits=student, labels=labels),
                params,
                {
                    "value": value,
                    "tckd": authors(1.0, 0.0),
                    "nckd": authors(0.0, 1.0),
                    "per_sample": [
                        authors(params["alpha"], params["beta"], slice(i, i + 1))
                        for i in range(len(labels))
                    ],
                },
                source(
                    "mdistiller",
                    "mdistiller/distillers/DKD.py",
                    "dkd_loss(logits_student, logits_teacher, target, alpha, beta, temperature)",
                    note="tckd = dkd_loss(..., alpha=1, beta=0, T), nckd = dkd_loss(..., alpha=0, "
                    "beta=1, T): both include T^2 and the batch mean. per_sample[i] = dkd_loss "
                    "on row i alone. Labels are class indices. Without the warm-up factor "
                    "min(epoch / WARMUP, 1) of the DKD distiller's forward_train.",
                ),
            )

    def dist(self):
        cases = {
            "dist_loss_t1": {"temperature": 1.0, "inter_weight": 1.0, "intra_weight": 1.0},
            "dist_loss_t1_b2": {"temperature": 1.0, "inter_weight": 2.0, "intra_weight": 1.0},
            "dist_loss_t4": {"temperature": 4.0, "inter_weight": 1.0, "intra_weight": 1.0},
            "dist_loss_t4_b2": {"temperature": 4.0, "inter_weight": 2.0, "intra_weight": 1.0},
        }
        for name, params in cases.items():
            teacher, student = self.normal((8, 10), 3.0), self.normal((8, 10), 3.0)
            t, s = self.t(teacher), self.t(student)

            def authors(beta, gamma, s=s, t=t, tau=params["temperature"]):
                return float(self.ref.dist_class(beta=beta, gamma=gamma, tau=tau)(s, t))

            self.add(
                name,
                self.store(name, teacher_logits=teacher, student_logits=student),
                params,
                {
                    "value": authors(params["inter_weight"], params["intra_weight"]),
                    "inter": authors(1.0, 0.0),
                    "intra": authors(0.0, 1.0),
                },
                source(
                    "dist_kd",
                    "lib/models/losses/dist_kd.py",
                    "DIST(beta=inter_weight, gamma=intra_weight, tau=temperature)(z_s, z_t)",
                    note="hunto/DIST_KD's classification submodule at this commit. inter = "
                    "DIST(1, 0, tau), intra = DIST(0, 1, tau): both include tau^2. The "
                    "distiller's loss weight (kd_loss_weight, 2 on CIFAR-100) is not applied.",
                ),
            )

    def logit_standardization(self):
        ref = self.ref
        for name, temperature in (
            ("kd_loss_standardized_t2", 2.0),
            ("kd_loss_standardized_t4", 4.0),
        ):
            # A teacher with a larger logit range and an offset, a student without.
            teacher = (self.normal((6, 10), 4.0) + 2.0).astype(np.float32)
            student = self.normal((6, 10), 1.0)
            t, s = self.t(teacher), self.t(student)
            plain = float(ref.ls_kd(s, t, temperature, False))
            check_guard_only("KD", plain, ref.zoo.DistillKL(temperature)(s, t))
            self.add(
                name,
                self.store(
                    name,
                    teacher_logits=teacher,
                    student_logits=student,
                    teacher_standardized=ref.ls_normalize(t).numpy(),
                    student_standardized=ref.ls_normalize(s).numpy(),
                ),
                {"temperature": temperature, "standardize": True},
                {
                    "value": float(ref.ls_kd(s, t, temperature, True)),
                    "value_unstandardized": plain,
                },
                source(
                    "logit_standardization",
                    "mdistiller/distillers/KD.py",
                    "kd_loss(logits_student_in, logits_teacher_in, temperature, "
                    "logit_stand=True); normalize(logits) for *_standardized",
                    note="value_unstandardized = the same kd_loss with logit_stand=False. "
                    "*_standardized (float64) = the authors' normalize: (z - mean) / "
                    "(1e-7 + std), std with Bessel's correction (torch.std). The KD "
                    "weight (--kd-weight, 9) is not applied.",
                ),
            )
        # DKD on standardized logits, with the authors' CIFAR-100 recipe for DKD
        # (tools/train.py): ALPHA and BETA times --kd-weight 9, T = --base-temp 2.
        name = "dkd_loss_standardized"
        params = {"temperature": 2.0, "alpha": 9.0, "beta": 72.0, "standardize": True}
        teacher = (self.normal((6, 5), 4.0) + 2.0).astype(np.float32)
        student = self.normal((6, 5), 1.0)
        labels = self.labels(6, 5)
        t, s, y = self.t(teacher), self.t(student), self.t(labels)

        def authors(alpha, beta):
            return float(ref.ls_dkd(s, t, y, alpha, beta, params["temperature"], True))

        self.add(
            name,
            self.store(name, teacher_logits=teacher, student_logits=student, labels=labels),
            params,
            {
                "value": authors(params["alpha"], params["beta"]),
                "tckd": authors(1.0, 0.0),
                "nckd": authors(0.0, 1.0),
            },
            source(
                "logit_standardization",
                "mdistiller/distillers/DKD.py",
                "dkd_loss(logits_student_in, logits_teacher_in, target, alpha, beta, "
                "temperature, logit_stand=True)",
                note="alpha = 1 * 9, beta = 8 * 9, T = 2: the authors' DKD defaults scaled as "
                "their tools/train.py does for --logit-stand --base-temp 2 --kd-weight 9. "
                "tckd/nckd: alpha, beta = (1, 0) and (0, 1).",
            ),
        )

    def crd(self):
        """RepDistiller's ContrastMemory + ContrastLoss on fixed embeddings,
        memory contents and contrast indices (passed in, so nothing is drawn)."""
        torch = self.ref.torch
        cases = {
            # The authors' first batch: Z estimated from it (params Z = -1);
            # the memory as initialized (uniform in +-1/sqrt(d/3), rows not unit norm).
            "crd_first_batch": {"batch": 4, "samples": 50, "dim": 16, "negatives": 12, "z": None},
            # Later: Z already set, unit-norm memory rows (as after updates).
            "crd_later_batch": {
                "batch": 5,
                "samples": 64,
                "dim": 8,
                "negatives": 20,
                "z": (61.5, 47.25),
            },
        }
        temperature, momentum = 0.07, 0.5
        for name, c in cases.items():
            b, n, d, k = c["batch"], c["samples"], c["dim"], c["negatives"]
            student_features, teacher_features = self.normal((b, d)), self.normal((b, d))
            bound = 1.0 / np.sqrt(d / 3.0)
            memories = [self.rng.uniform(-bound, bound, (n, d)) for _ in range(2)]
            if c["z"] is not None:
                memories = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in memories]
            student_memory, teacher_memory = (m.astype(np.float32) for m in memories)
            index = self.rng.permutation(n)[:b].astype(np.int32)
            draws = self.rng.integers(0, n - 1, (b, k))
            negatives = draws + (draws >= index[:, None])  # every row but the positive
            indices = np.concatenate([index[:, None], negatives], axis=1).astype(np.int32)
            # The authors' Normalize(2) in float64; the float32 copies are the embeddings
            # fed to the memory (so that keras_kd's float32 inputs are the same numbers).
            e_s = self.ref.crd_normalize(self.t(student_features)).numpy().astype(np.float32)
            e_t = self.ref.crd_normalize(self.t(teacher_features)).numpy().astype(np.float32)
            with cuda_as_noop(torch):
                memory = self.ref.crd_memory_class(d, n, k, temperature, momentum).double()
            memory.params[1] = temperature  # the buffer was float32: 0.07 exactly
            if c["z"] is not None:
                memory.params[2], memory.params[3] = c["z"]
            memory.memory_v1.copy_(self.t(student_memory))
            memory.memory_v2.copy_(self.t(teacher_memory))
            out_s, out_t = memory(
                self.t(e_s), self.t(e_t), self.t(index), self.t(indices.astype(np.int64))
            )
            z_s, z_t = float(memory.params[2]), float(memory.params[3])
            criterion = self.ref.crd_loss_class(n)
            student_side, teacher_side = float(criterion(out_s)), float(criterion(out_t))
            self.add(
                name,
                self.store(
                    name,
                    student_features=student_features,
                    teacher_features=teacher_features,
                    student_embedding=e_s,
                    teacher_embedding=e_t,
                    student_memory=student_memory,
                    teacher_memory=teacher_memory,
                    sample_index=index,
                    contrast_indices=indices,
                    student_scores=(out_s * z_s).squeeze(-1).numpy(),
                    teacher_scores=(out_t * z_t).squeeze(-1).numpy(),
                    student_memory_rows=memory.memory_v1[self.t(index)].numpy(),
                    teacher_memory_rows=memory.memory_v2[self.t(index)].numpy(),
                ),
                {
                    "num_samples": n,
                    "num_negatives": k,
                    "temperature": temperature,
                    "momentum": momentum,
                    "normalizers_given": c["z"] is not None,
                },
                {
                    "value": student_side + teacher_side,
                    "student_side": student_side,
                    "teacher_side": teacher_side,
                    "student_normalizer": z_s,
                    "teacher_normalizer": z_t,
                },
                source(
                    "repdistiller",
                    "crd/memory.py, crd/criterion.py",
                    "ContrastMemory(d, N, K, 0.07, 0.5).forward(v1=e_s, v2=e_t, y=index, "
                    "idx=contrast_indices); ContrastLoss(N) on each output",
                    note="student_embedding/teacher_embedding = Normalize(2) of the features "
                    "(stored float32 and fed as such). student_side = ContrastLoss(N)(out_v1), "
                    "out_v1 = exp(<memory_v2[idx], e_s>/T) / Z_v1 (the student's embedding "
                    "against the teacher memory); teacher_side = ContrastLoss(N)(out_v2); "
                    "value = their sum, as CRDLoss.forward without its Embed layers. "
                    "*_scores = out * Z (unnormalized; the (B, K+1, 1) output squeezed). "
                    "*_normalizer = params[2], params[3] after the call (estimated there "
                    "when normalizers_given is false). "
                    "*_memory_rows = memory_v1/v2[index] after the call's momentum update. "
                    "Memory contents, indices and normalizers are inputs, not the authors' "
                    "random draws.",
                ),
            )

    def wttm(self):
        for name, gamma in (("wttm_loss_g02", 0.2), ("wttm_loss_g05", 0.5)):
            teacher, student = self.normal((6, 10), 3.0), self.normal((6, 10), 3.0)
            value = self.ref.wttm_class(gamma)(self.t(student), self.t(teacher))
            self.add(
                name,
                self.store(name, teacher_logits=teacher, student_logits=student),
                {"gamma": gamma},
                {"value": float(value)},
                source(
                    "wttm",
                    "distiller_zoo/wttm.py",
                    "WTTM(l=gamma)(y_s, y_t)",
                    note="The loss weight (-b, or -a combined with another method) is not applied.",
                ),
            )

    def mlkd(self):
        ref = self.ref
        for name, batch, temperature in (("mlkd_t4", 8, 4.0), ("mlkd_t2_odd_batch", 7, 2.0)):
            logits = {
                key: self.normal((batch, 10), 3.0)
                for key in ("teacher_weak", "student_weak", "teacher_strong", "student_strong")
            }
            labels = self.labels(batch, 10)
            weak, strong = ref.torch.zeros(1), ref.torch.ones(1)

            def network(prefix, logits=logits, weak=weak):
                def run(image):
                    view = "weak" if image is weak else "strong"
                    return self.t(logits[f"{prefix}_{view}"]), None

                return run

            distiller = object.__new__(ref.mlkd_class)
            distiller.student, distiller.teacher = network("student"), network("teacher")
            distiller.temperature = temperature
            distiller.ce_loss_weight, distiller.kd_loss_weight = 1.0, 1.0
            _, losses = distiller.forward_train(weak, strong, self.t(labels))
            self.add(
                name,
                self.store(name, labels=labels, **logits),
                {"temperature": temperature},
                {
                    "instance": float(losses["loss_kd"]),
                    "class": float(losses["loss_cc"]),
                    "batch": float(losses["loss_bc"]),
                    "task_both_views": float(losses["loss_ce"]),
                },
                source(
                    "mlkd",
                    "mdistiller/distillers/KD_ours.py",
                    "KD_ours.forward_train(image_weak, image_strong, target): losses_dict",
                    note="The networks return the stored logits for each view (the images are "
                    "placeholders); CE_WEIGHT and KD_WEIGHT set to 1, so instance = loss_kd, "
                    "class = loss_cc, batch = loss_bc and task_both_views = loss_ce are the "
                    "unweighted sums (the CIFAR-100 weights are 0.1 and 0.9).",
                ),
            )

    def cwd(self):
        cases = {
            "cwd_loss_t1": ((2, 6, 5, 4), 1.0),
            "cwd_loss_t4": ((3, 4, 4, 3), 4.0),
            "cwd_loss_sequence": ((2, 7, 5), 2.0),  # (B, T, C): passed as NCHW (B, C, T, 1)
        }
        for name, (shape, tau) in cases.items():
            teacher, student = self.normal(shape, 2.0), self.normal(shape, 2.0)
            t4, s4 = (x if x.ndim == 4 else x[:, :, None, :] for x in (teacher, student))
            value = self.ref.cwd_class(tau=tau)(self.nchw(s4), self.nchw(t4))
            self.add(
                name,
                self.store(name, teacher=teacher, student=student),
                {"temperature": tau},
                {"value": float(value)},
                source(
                    "mmrazor",
                    "mmrazor/models/losses/cwd.py",
                    "ChannelWiseDivergence(tau=tau, loss_weight=1.0).forward(preds_S, preds_T)",
                    note="A (B, T, C) sequence is passed as the NCHW map (B, C, T, 1): its "
                    "positions are the T steps.",
                ),
            )

    def pkd(self):
        cases = {
            "pkd_loss": ((2, 5, 5, 4), (2, 5, 5, 4), True),
            "pkd_loss_resize_student": ((2, 6, 6, 3), (2, 4, 4, 3), True),
            "pkd_loss_resize_teacher": ((2, 8, 8, 3), (2, 5, 5, 3), False),
        }
        for name, (t_shape, s_shape, resize_stu) in cases.items():
            teacher = self.normal(t_shape, 3.0) + 1.0
            student = self.normal(s_shape, 0.5) - 2.0
            value = self.ref.pkd_class(resize_stu=resize_stu)(
                self.nchw(student), self.nchw(teacher)
            )
            self.add(
                name,
                self.store(name, teacher=teacher, student=student),
                {"resize_student": resize_stu},
                {"value": float(value)},
                source(
                    "mmrazor",
                    "mmrazor/models/losses/pkd_loss.py",
                    "PKDLoss(loss_weight=1.0, resize_stu=resize_student).forward(preds_S, preds_T)",
                    note="One map per call (mmrazor also sums over a tuple of maps).",
                ),
            )

    def pairwise(self):
        cases = {
            "pairwise_loss_default": ((2, 8, 8, 6), 4, 0.5),
            "pairwise_loss_ceil": ((2, 7, 9, 3), 5, 0.3),  # windows 2 x 2, a 4 x 5 grid
        }
        torch = self.ref.torch
        for name, (t_shape, s_channels, scale) in cases.items():
            teacher = self.relu_feature(t_shape)
            student = self.relu_feature(t_shape[:3] + (s_channels,))
            criterion = self.ref.pairwise_class(scale=scale, feat_ind=0)
            with float_as_noop(torch):
                value = criterion([self.nchw(student)], [self.nchw(teacher)])
            self.add(
                name,
                self.store(name, teacher=teacher, student=student),
                {"scale": scale},
                {"value": float(value)},
                source(
                    "structured_kd",
                    "utils/criterion.py, utils/utils.py",
                    "CriterionPairWiseforWholeFeatAfterPool(scale, feat_ind=0).forward("
                    "[feat_S], [feat_T]) (sim_dis_compute, similarity, L2)",
                    note="similarity's feat.float() is kept float64 for the call "
                    "(Tensor.float replaced by the identity).",
                ),
            )

    def gkd(self):
        """TRL's generalized_jsd_loss on (B, T, V) logits, labels -100 at padding."""
        jsd = self.ref.trl_jsd
        torch = self.ref.torch
        batch, steps, vocab = 3, 6, 11
        lengths = np.array([6, 2, 4])
        mask = np.arange(steps)[None, :] < lengths[:, None]

        def labels_for(mask):
            labels = self.rng.integers(0, vocab, mask.shape)
            return np.where(mask, labels, -100).astype(np.int32)

        def trl_source(call, note):
            return source("trl", "trl/experimental/gkd/gkd_trainer.py", call, note=note)

        for name, beta, tau in (
            ("gkd_loss_b05", 0.5, 1.0),
            ("gkd_loss_b0_forward_kl", 0.0, 1.0),
            ("gkd_loss_b1_reverse_kl", 1.0, 1.0),
            ("gkd_loss_b02_t2", 0.2, 2.0),
        ):
            teacher = self.normal((batch, steps, vocab), 3.0)
            student = self.normal((batch, steps, vocab), 3.0)
            labels = labels_for(mask)
            value = jsd(self.t(student), self.t(teacher), self.t(labels), beta, tau)
            self.add(
                name,
                self.store(
                    name, teacher_logits=teacher, student_logits=student, labels=labels, mask=mask
                ),
                {"beta": beta, "temperature": tau},
                {"value": float(value)},
                trl_source(
                    "GKDTrainer.generalized_jsd_loss(student_logits, teacher_logits, labels, "
                    "beta, temperature, reduction='batchmean')",
                    "mask = labels != -100; batchmean with labels divides by the real tokens.",
                ),
            )
        # No labels: TRL's batchmean divides the sum over every token by the batch size.
        name = "gkd_loss_no_labels"
        teacher = self.normal((2, 5, 7), 3.0)
        student = self.normal((2, 5, 7), 3.0)
        value = jsd(self.t(student), self.t(teacher), None, 0.5, 1.0)
        self.add(
            name,
            self.store(name, teacher_logits=teacher, student_logits=student),
            {"beta": 0.5, "temperature": 1.0},
            {"value": float(value)},
            trl_source(
                "GKDTrainer.generalized_jsd_loss(student_logits, teacher_logits, labels=None, "
                "beta=0.5, reduction='batchmean')",
                "Without labels batchmean = sum over all tokens / batch size, i.e. "
                "steps times keras_kd's mean over tokens.",
            ),
        )
        # Two micro-batches of one step: num_items_in_batch (the step's real-token
        # count) makes the sum of their losses the mean over the step's tokens;
        # the mean of their per-micro-batch batchmean values is not.
        name = "gkd_loss_two_micro_batches"
        masks = [np.arange(5)[None, :] < np.array([[5], [1]]), np.arange(5)[None, :] < [[3], [4]]]
        arrays, total, per_micro_batch = {}, 0.0, []
        count = int(sum(m.sum() for m in masks))
        for i, m in enumerate(masks):
            teacher, student = self.normal((2, 5, 9), 3.0), self.normal((2, 5, 9), 3.0)
            labels = labels_for(m)
            args = (self.t(student), self.t(teacher), self.t(labels), 0.5, 1.0)
            total += float(jsd(*args, num_items_in_batch=torch.tensor(count)))
            per_micro_batch.append(float(jsd(*args)))
            arrays.update(
                {
                    f"teacher_logits{i}": teacher,
                    f"student_logits{i}": student,
                    f"labels{i}": labels,
                    f"mask{i}": m,
                }
            )
        self.add(
            name,
            self.store(name, **arrays),
            {"beta": 0.5, "temperature": 1.0, "num_items_in_batch": count},
            {"value": total, "mean_of_micro_batch_means": float(np.mean(per_micro_batch))},
            trl_source(
                "sum over micro-batches i of GKDTrainer.generalized_jsd_loss(student_i, "
                "teacher_i, labels_i, 0.5, 1.0, num_items_in_batch=count)",
                "value = the global mean over the real tokens of both micro-batches; "
                "mean_of_micro_batch_means = the per-micro-batch normalization pitfall "
                "(the mean of the two batchmean values without num_items_in_batch).",
            ),
        )

    def build(self):
        self.kd()
        self.cross_entropy()
        self.hint()
        self.attention()
        self.gradient_attention()
        self.nst()
        self.factor()
        self.boundary()
        self.fsp()
        self.rkd()
        self.dml()
        self.one()
        self.byot()
        # Added later: after the cases above, so that their inputs (drawn from
        # the same generator, in order) stay as they were.
        self.dkd()
        self.dist()
        self.logit_standardization()
        self.crd()
        self.wttm()
        self.mlkd()
        self.cwd()
        self.pkd()
        self.pairwise()
        self.gkd()


def generate(refcode, out_dir):
    ref = Reference(refcode)
    builder = Builder(ref)
    with ref.torch.no_grad(), quiet_deprecations():
        builder.build()
    out_dir = Path(out_dir)
    np.savez(out_dir / "inputs.npz", **builder.arrays)
    document = {
        "about": "Expected loss values computed outside keras_kd by "
        "tests/reference/make_reference_values.py; inputs in inputs.npz (NHWC, teacher "
        "first). Values are float64 results on the stored float32 inputs.",
        "seed": SEED,
        "torch_version": ref.torch.__version__,
        "numpy_version": np.__version__,
        "sources": {k: {"repo": v["repo"], "commit": v["commit"]} for k, v in SOURCES.items()},
        "cases": builder.cases,
    }
    (out_dir / "values.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"{len(builder.cases)} cases written to {out_dir}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ext = commands.add_parser("extract", help="write the pinned reference files to REFCODE")
    ext.add_argument("--mirrors", required=True, help="folder of git mirrors <owner>+<name>")
    ext.add_argument("--refcode", required=True)
    gen = commands.add_parser("generate", help="compute and write values.json and inputs.npz")
    gen.add_argument("--refcode", required=True)
    gen.add_argument("--out", default=str(HERE))
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract(args.mirrors, args.refcode)
    else:
        generate(args.refcode, args.out)


if __name__ == "__main__":
    main()
