"""Pure distillation losses: ``fn(teacher, student, **hparams) -> scalar`` (NHWC)."""

from keras_kd.losses.attention import (
    attention_map,
    attention_transfer_loss,
    gradient_attention_loss,
)
from keras_kd.losses.boundary import activation_boundary_loss
from keras_kd.losses.crd import (
    contrast_loss,
    contrast_normalizer,
    contrast_scores,
    crd_loss,
    memory_update,
    normalize_embedding,
)
from keras_kd.losses.cwd import cwd_loss
from keras_kd.losses.dist import dist_loss
from keras_kd.losses.dkd import dkd_loss
from keras_kd.losses.factor import factor_transfer_loss
from keras_kd.losses.fsp import fsp_loss, fsp_matrix
from keras_kd.losses.gkd import forward_kl_loss, gkd_loss, reverse_kl_loss
from keras_kd.losses.hint import hint_loss
from keras_kd.losses.kd import kd_loss, standardize_logits
from keras_kd.losses.nst import nst_loss
from keras_kd.losses.pairwise import pairwise_loss
from keras_kd.losses.pkd import pkd_loss
from keras_kd.losses.rkd import rkd_loss

__all__ = [
    "activation_boundary_loss",
    "attention_map",
    "attention_transfer_loss",
    "contrast_loss",
    "contrast_normalizer",
    "contrast_scores",
    "crd_loss",
    "cwd_loss",
    "dist_loss",
    "dkd_loss",
    "factor_transfer_loss",
    "forward_kl_loss",
    "fsp_loss",
    "fsp_matrix",
    "gkd_loss",
    "gradient_attention_loss",
    "hint_loss",
    "kd_loss",
    "memory_update",
    "normalize_embedding",
    "nst_loss",
    "pairwise_loss",
    "pkd_loss",
    "reverse_kl_loss",
    "rkd_loss",
    "standardize_logits",
]
