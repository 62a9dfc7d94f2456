"""Datasets for the training experiments, read from local files only.

* ``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 images,
  pixel values 0..16, here divided by 16 so that inputs lie in [0, 1]); it
  ships with scikit-learn, so it needs nothing from the network.  The first
  1,500 images are the training set and the remaining 297 the test set.
* ``idx:DIR``: the IDX format of MNIST (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
  ``t10k-labels-idx1-ubyte[.gz]``), which Fashion-MNIST shares.  Pixels (bytes
  0..255) are divided by 255.  An IDX file is two zero bytes, a type byte
  (``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B`` int16, ``0x0C``
  int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions, the
  dimensions as big-endian int32, then the data, big-endian.
* ``fashion-mnist``: ``idx:`` of ``$GRADBOUNDS_FASHION_MNIST`` or of
  :data:`FASHION_MNIST_DIR`, where Debian's package ``dataset-fashion-mnist``
  installs it.
* ``pkl:FILE``: Nielsen's ``mnist.pkl.gz`` (a pickled ``(training,
  validation, test)`` triple of ``(images (n, 784) float32, labels (n,))``;
  50,000 / 10,000 / 10,000 images, pixels already scaled).  It is unpickled
  with an unpickler that only accepts numpy arrays, so a tampered file cannot
  run code.

Nothing is downloaded.  Labels are kept as integers; :func:`one_hot` gives
the training targets.

References:
  LeCun, Bottou, Bengio & Haffner 1998 (MNIST, IDX format);
  Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747 (Fashion-MNIST);
  Alpaydin & Kaynak 1998, UCI optical digits (scikit-learn ``load_digits``);
  Nielsen, *Neural Networks and Deep Learning*, ch. 1 (``mnist_loader.py``).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from gradbounds._extras import require

__all__ = [
    "Dataset",
    "FASHION_MNIST_DIR",
    "DATASET_SPECS",
    "one_hot",
    "load_digits",
    "read_idx",
    "load_idx",
    "load_pkl",
    "load_dataset",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DATASET_SPECS = ("digits", "fashion-mnist", "idx:DIR", "pkl:FILE")

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Dataset:
    """Images as rows in [0, 1] and integer labels.

    Attributes:
      name: short name (``digits``, ``fashion-mnist``, ...).
      x_train, x_test: ``(n, d)`` float64 inputs.
      labels_train, labels_test: ``(n,)`` int64 class labels.
      image_shape: shape of one image (``(8, 8)`` or ``(28, 28)``).
      n_classes: number of classes.
      source: where the data came from.
    """

    name: str
    x_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    image_shape: tuple
    n_classes: int = 10
    source: str = ""

    def __post_init__(self):
        for part in ("train", "test"):
            x, lab = getattr(self, f"x_{part}"), getattr(self, f"labels_{part}")
            if x.ndim != 2 or lab.shape != (x.shape[0],):
                raise ValueError(
                    f"{self.name} {part}: expected images (n, d) and labels (n,), got {x.shape} and {lab.shape}"
                )
            if lab.size and (lab.min() < 0 or lab.max() >= self.n_classes):
                raise ValueError(
                    f"{self.name} {part}: expected labels in 0..{self.n_classes - 1}, got {lab.min()}..{lab.max()}"
                )
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(
                f"{self.name}: train and test inputs differ in size ({self.x_train.shape[1]} vs {self.x_test.shape[1]})"
            )

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[1])

    def y_train(self, dtype=np.float64) -> np.ndarray:
        """One-hot training targets ``(n, n_classes)``."""
        return one_hot(self.labels_train, self.n_classes, dtype=dtype)

    def y_test(self, dtype=np.float64) -> np.ndarray:
        """One-hot test targets ``(n, n_classes)``."""
        return one_hot(self.labels_test, self.n_classes, dtype=dtype)

    def head(self, n_train: int | None) -> Dataset:
        """The same dataset restricted to its first ``n_train`` training images (``None``: all)."""
        if n_train is None:
            return self
        if not 1 <= n_train <= len(self.labels_train):
            raise ValueError(f"n_train: expected 1..{len(self.labels_train)} for {self.name}, got {n_train}")
        return replace(self, x_train=self.x_train[:n_train], labels_train=self.labels_train[:n_train])

    def describe(self) -> str:
        shape = "×".join(str(s) for s in self.image_shape)
        return (
            f"{self.name}: {len(self.labels_train)} training and {len(self.labels_test)} test images "
            f"of {shape} = {self.n_inputs} inputs in [0, 1], {self.n_classes} classes ({self.source})"
        )


def one_hot(labels: ArrayLike, n_classes: int = 10, *, dtype: DTypeLike = np.float64) -> np.ndarray:
    """Targets ``y`` with ``y[i, labels[i]] = 1`` and 0 elsewhere."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected a 1-d integer array, got {labels.dtype} of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels: expected values in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.size, n_classes), dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def load_digits(*, n_train: int = 1500) -> Dataset:
    """scikit-learn's 8×8 digits, pixels / 16; the first ``n_train`` images train, the rest test."""
    sk = require("sklearn.datasets", "the 'digits' dataset")  # scikit-learn: the 'train' extra
    data, target = sk.load_digits(return_X_y=True)
    x = np.asarray(data, np.float64) / 16.0
    lab = np.asarray(target, np.int64)
    if not 1 <= n_train < len(lab):
        raise ValueError(f"n_train: expected 1..{len(lab) - 1}, got {n_train}")
    return Dataset(
        "digits", x[:n_train], lab[:n_train], x[n_train:], lab[n_train:], (8, 8), 10, "scikit-learn load_digits"
    )


def _open(path: Path):
    """Opens a file, transparently gunzipping it when it starts with the gzip magic 1f 8b."""
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (plain or gzipped) into a numpy array in native byte order.

    Raises:
      ValueError: a bad magic number, an unknown type byte, or a size that does
        not match the header (naming the file).
    """
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise OSError(f"{path}: cannot read IDX file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file (expected magic bytes 00 00, got {raw[:4].hex(' ') or 'an empty file'})"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX type byte 0x{code:02x} (expected one of 08 09 0b 0c 0d 0e)")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: IDX header with {ndim} dimensions is truncated or empty")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    dt = np.dtype(_IDX_TYPES[code])
    want = int(np.prod(shape)) * dt.itemsize
    got = len(raw) - 4 - 4 * ndim
    if got != want:
        raise ValueError(f"{path}: IDX header says shape {shape} ({want} bytes of data), file has {got} bytes")
    return np.frombuffer(raw, dt, offset=4 + 4 * ndim).reshape(shape).astype(dt.newbyteorder("="))


def _find(directory: Path, prefix: str, kind: str) -> Path:
    names = [f"{prefix}-{kind}", f"{prefix}-{kind.replace('-idx', '.idx')}"]
    for name in names:
        for cand in (directory / name, directory / (name + ".gz")):
            if cand.is_file():
                return cand
    raise FileNotFoundError(
        f"{directory}: expected {names[0]} or {names[0]}.gz (the IDX files of MNIST / Fashion-MNIST)"
    )


def load_idx(directory: str | os.PathLike, *, name: str | None = None) -> Dataset:
    """Reads an MNIST-style directory of IDX files (plain or ``.gz``); pixels / 255.

    Expects ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally
    ``.gz``; ``train-images.idx3-ubyte`` spellings are accepted too).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory (expected the IDX files of MNIST / Fashion-MNIST)")
    parts = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        img_path = _find(directory, prefix, "images-idx3-ubyte")
        lab_path = _find(directory, prefix, "labels-idx1-ubyte")
        img, lab = read_idx(img_path), read_idx(lab_path)
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"{img_path}: expected unsigned-byte images (n, rows, cols), got {img.dtype} of shape {img.shape}"
            )
        if lab.ndim != 1 or len(lab) != len(img):
            raise ValueError(f"{lab_path}: expected {len(img)} labels (one per image), got shape {lab.shape}")
        parts[part] = (img, lab.astype(np.int64))
    shape = parts["train"][0].shape[1:]
    if parts["test"][0].shape[1:] != shape:
        raise ValueError(f"{directory}: train images are {shape}, test images {parts['test'][0].shape[1:]}")
    n_classes = int(max(parts["train"][1].max(initial=0), parts["test"][1].max(initial=0))) + 1
    flat = {k: (v[0].reshape(len(v[0]), -1).astype(np.float64) / 255.0, v[1]) for k, v in parts.items()}
    return Dataset(
        name or directory.name,
        flat["train"][0],
        flat["train"][1],
        flat["test"][0],
        flat["test"][1],
        tuple(int(s) for s in shape),
        max(n_classes, 10),
        f"IDX files in {directory}",
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Accepts only what a pickled tuple of numpy arrays needs."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes written by Python 3 at pickle protocol 2
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are accepted")
        return super().find_class(module, name)


def load_pkl(path: str | os.PathLike) -> Dataset:
    """Reads Nielsen's ``mnist.pkl.gz`` (training and test parts; pixels as stored).

    The file is a (gzipped) pickle of ``(training, validation, test)``, each
    ``(images (n, 784), labels (n,))``.  Only numpy arrays are unpickled.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (OSError, EOFError) as e:
        raise OSError(f"{path}: cannot read ({e})") from e
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: not Nielsen's mnist.pkl.gz ({e})") from e
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)):
        raise ValueError(f"{path}: expected a pickled (training, validation, test) triple of (images, labels) pairs")
    (xtr, ltr), _, (xte, lte) = obj
    xtr, xte = np.asarray(xtr, np.float64), np.asarray(xte, np.float64)
    if xtr.ndim != 2 or xte.ndim != 2:
        raise ValueError(f"{path}: expected images of shape (n, d), got {xtr.shape} and {xte.shape}")
    side = int(round(np.sqrt(xtr.shape[1])))
    shape = (side, side) if side * side == xtr.shape[1] else (xtr.shape[1],)
    return Dataset(
        "mnist", xtr, np.asarray(ltr, np.int64), xte, np.asarray(lte, np.int64), shape, 10, f"Nielsen's pickle {path}"
    )


def load_dataset(spec: str) -> Dataset:
    """A dataset from a spec: ``digits``, ``fashion-mnist``, ``idx:DIR`` or ``pkl:FILE``.

    ``fashion-mnist`` reads ``$GRADBOUNDS_FASHION_MNIST`` if set, else
    :data:`FASHION_MNIST_DIR` (Debian: ``apt-get install dataset-fashion-mnist``).
    """
    if not isinstance(spec, str):
        raise TypeError(f"dataset: expected a spec string ({', '.join(DATASET_SPECS)}), got {type(spec).__name__}")
    low = spec.strip().lower()
    if low == "digits":
        return load_digits()
    if low in ("fashion-mnist", "fashion_mnist", "fashion"):
        directory = os.environ.get("GRADBOUNDS_FASHION_MNIST") or FASHION_MNIST_DIR
        if not Path(directory).is_dir():
            raise FileNotFoundError(
                f"fashion-mnist: {directory} does not exist; install Debian's dataset-fashion-mnist, "
                "set GRADBOUNDS_FASHION_MNIST, or use idx:DIR"
            )
        return load_idx(directory, name="fashion-mnist")
    kind, sep, rest = spec.partition(":")
    if sep and kind.lower() == "idx" and rest:
        return load_idx(rest)
    if sep and kind.lower() == "pkl" and rest:
        return load_pkl(rest)
    raise ValueError(f"dataset: expected one of {', '.join(DATASET_SPECS)}, got {spec!r}")
