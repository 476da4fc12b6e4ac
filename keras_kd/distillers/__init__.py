"""Distillers: `keras.Model` subclasses whose `train_step` implements a method,
and the loss terms they are declared from (composable in one `Distiller`)."""

from keras_kd.distillers._terms import KDTerm, TaskTerm, Term
from keras_kd.distillers.activation_boundary import ActivationBoundary, ActivationBoundaryTerm
from keras_kd.distillers.attention import AttentionTerm, AttentionTransfer
from keras_kd.distillers.base import Distiller
from keras_kd.distillers.born_again import BornAgain
from keras_kd.distillers.byot import BYOT
from keras_kd.distillers.chain import DistillationChain, TeacherAssistantChain
from keras_kd.distillers.crd import CRD, CRDTerm
from keras_kd.distillers.cwd import CWD, CWDTerm
from keras_kd.distillers.dist import DIST, DISTTerm
from keras_kd.distillers.dkd import DKD, DKDTerm
from keras_kd.distillers.ensemble import ensemble_teacher
from keras_kd.distillers.factor_transfer import FactorTransfer, FactorTransferTerm
from keras_kd.distillers.fitnet import FitNet, HintTerm
from keras_kd.distillers.fsp import FSP, FSPTerm
from keras_kd.distillers.function_matching import FunctionMatching
from keras_kd.distillers.gkd import GKD, GKDTerm
from keras_kd.distillers.gradient_attention import GradientAttentionTerm, GradientAttentionTransfer
from keras_kd.distillers.kd import KD
from keras_kd.distillers.mlkd import MLKD, MLKDTerm
from keras_kd.distillers.mutual import DeepMutualLearning
from keras_kd.distillers.nst import NST, NSTTerm
from keras_kd.distillers.one import ONE
from keras_kd.distillers.pairwise import PairwiseDistillation, PairwiseTerm
from keras_kd.distillers.pkd import PKD, PKDTerm
from keras_kd.distillers.rkd import RKD, RKDTerm
from keras_kd.distillers.wttm import WTTM, WTTMTerm

__all__ = [
    "PairwiseTerm",
    "PairwiseDistillation",
    "PKDTerm",
    "PKD",
    "GKDTerm",
    "GKD",
    "CWDTerm",
    "CWD",
    "BYOT",
    "CRD",
    "DIST",
    "DKD",
    "FSP",
    "KD",
    "MLKD",
    "NST",
    "ONE",
    "RKD",
    "WTTM",
    "ActivationBoundary",
    "ActivationBoundaryTerm",
    "AttentionTerm",
    "AttentionTransfer",
    "BornAgain",
    "CRDTerm",
    "DISTTerm",
    "DKDTerm",
    "DeepMutualLearning",
    "DistillationChain",
    "Distiller",
    "FSPTerm",
    "FactorTransfer",
    "FactorTransferTerm",
    "FunctionMatching",
    "FitNet",
    "GradientAttentionTerm",
    "GradientAttentionTransfer",
    "HintTerm",
    "KDTerm",
    "MLKDTerm",
    "NSTTerm",
    "RKDTerm",
    "TaskTerm",
    "TeacherAssistantChain",
    "Term",
    "WTTMTerm",
    "ensemble_teacher",
]
