"""CSI codecs (neural and the NR codebooks) behind one interface, registered by name in ``CODECS``."""

from __future__ import annotations

from simnet.codecs.base import CODECS, Codec, register_codec
from simnet.codecs.bit_alloc import BitAllocCodec
from simnet.codecs.checkpoint import (
    DEFAULT_LMBDA,
    checkpoint_header,
    codec_lmbda,
    data_hash,
    default_checkpoint,
    load_codec,
    resolve_checkpoint,
    resolve_lmbda,
    save_codec,
    shipped_checkpoints,
    shipped_sha256,
    verify_checkpoint,
)
from simnet.codecs.common import RDCodec, rd_loss
from simnet.codecs.csi_inr import CSIINR
from simnet.codecs.eigen_crnet import EigenCRNet
from simnet.codecs.eigen_sgcs import DirectionCodec, EigenSGCSCodec, sgcs_of_directions
from simnet.codecs.etype2 import EType2Codec
from simnet.codecs.learned_transform import LearnedTransformCodec
from simnet.codecs.nr_codebook import CodebookCodec
from simnet.codecs.raw import RawCodec
from simnet.codecs.rd_cnn_paper import RDCNNPaper
from simnet.codecs.rd_crnet import CRNetTransforms, RDCRNet
from simnet.codecs.rd_crnet_binary import RDCRNetBinaryEncoder, encoder_cost
from simnet.codecs.rd_crnet_hyperprior import RDCRNetHyperprior
from simnet.codecs.type1 import Type1Codec

__all__ = [
    "CODECS",
    "BitAllocCodec",
    "DEFAULT_LMBDA",
    "Codec",
    "CRNetTransforms",
    "CSIINR",
    "DirectionCodec",
    "EigenCRNet",
    "CodebookCodec",
    "EigenSGCSCodec",
    "EType2Codec",
    "LearnedTransformCodec",
    "RDCNNPaper",
    "RDCRNet",
    "RDCRNetBinaryEncoder",
    "RDCRNetHyperprior",
    "RDCodec",
    "RawCodec",
    "checkpoint_header",
    "codec_lmbda",
    "data_hash",
    "default_checkpoint",
    "encoder_cost",
    "load_codec",
    "rd_loss",
    "register_codec",
    "resolve_checkpoint",
    "resolve_lmbda",
    "save_codec",
    "sgcs_of_directions",
    "shipped_checkpoints",
    "shipped_sha256",
    "Type1Codec",
    "verify_checkpoint",
]
