"""Tests for gradbounds.data: IDX files written here byte by byte, Nielsen's pickle, digits, Fashion-MNIST."""

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from gradbounds import training

# --- IDX files written independently of the reader (struct, big-endian) ---------------------------


def _idx_bytes(arr: np.ndarray, code: int, fmt: str) -> bytes:
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return head + arr.astype(fmt).tobytes()


def _write(path: Path, raw: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


def _tiny_mnist(directory: Path, *, n_train=7, n_test=3, rows=4, cols=5, gz=(True, False, False, True), seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte"][0, 0, 0] = 255  # so that the maximum pixel is exactly 1 after / 255
    directory.mkdir(parents=True, exist_ok=True)
    for (name, arr), z in zip(arrays.items(), gz):
        _write(directory / name, _idx_bytes(arr, 0x08, ">u1"), z)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "code,fmt,values",
    [
        (0x08, ">u1", np.array([[0, 1, 255], [7, 128, 3]])),
        (0x09, ">i1", np.array([-128, 0, 127])),
        (0x0B, ">i2", np.array([[-300], [300]])),
        (0x0C, ">i4", np.array([-(2**31), 2**31 - 1])),
        (0x0D, ">f4", np.array([[0.5, -1.25]])),
        (0x0E, ">f8", np.array([np.pi, -np.e, 1e300])),
    ],
)
def test_read_idx_types_plain_and_gz(tmp_path, gz, code, fmt, values):
    path = _write(tmp_path / "x-idx", _idx_bytes(values, code, fmt), gz)
    got = training.read_idx(path)
    assert got.shape == values.shape
    assert got.dtype == np.dtype(fmt).newbyteorder("=")
    np.testing.assert_array_equal(got, values.astype(fmt))


def test_read_idx_bad_magic_truncated_and_unknown_type(tmp_path):
    good = _idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08, ">u1")
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="not an IDX file"):
        training.read_idx(bad_magic)
    short = tmp_path / "short"
    short.write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*5 bytes"):
        training.read_idx(short)
    unknown = tmp_path / "unknown"
    unknown.write_bytes(good[:2] + b"\x07" + good[3:])
    with pytest.raises(ValueError, match="unknown IDX type byte 0x07"):
        training.read_idx(unknown)
    with pytest.raises(OSError, match="cannot read"):
        training.read_idx(tmp_path / "missing")


def test_load_idx_directory_mixed_gz(tmp_path):
    arrays = _tiny_mnist(tmp_path / "mini")
    ds = training.load_idx(tmp_path / "mini")
    assert ds.name == "mini" and ds.image_shape == (4, 5) and ds.n_inputs == 20
    np.testing.assert_array_equal(ds.x_train, arrays["train-images-idx3-ubyte"].reshape(7, 20) / 255.0)
    np.testing.assert_array_equal(ds.labels_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.x_train.max() == 1.0 and ds.x_train.min() >= 0.0
    y = ds.y_train()
    assert y.shape == (7, 10) and np.all(y.sum(1) == 1) and np.all(np.argmax(y, 1) == ds.labels_train)
    assert training.load_dataset(f"idx:{tmp_path / 'mini'}").labels_train.tolist() == ds.labels_train.tolist()


def test_load_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        training.load_idx(tmp_path / "nowhere")
    _tiny_mnist(tmp_path / "a")
    os.remove(tmp_path / "a" / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        training.load_idx(tmp_path / "a")
    _tiny_mnist(tmp_path / "b")
    _write(tmp_path / "b" / "train-labels-idx1-ubyte", _idx_bytes(np.zeros(5, np.uint8), 0x08, ">u1"), False)
    with pytest.raises(ValueError, match="expected 7 labels"):
        training.load_idx(tmp_path / "b")


def _nielsen_pickle(path: Path, seed=0):
    rng = np.random.default_rng(seed)
    parts = tuple((rng.random((n, 16), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)) for n in (6, 2, 3))
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)
    return parts


def test_load_pkl_nielsen_format(tmp_path):
    parts = _nielsen_pickle(tmp_path / "mnist.pkl.gz")
    ds = training.load_dataset(f"pkl:{tmp_path / 'mnist.pkl.gz'}")
    assert ds.image_shape == (4, 4)
    np.testing.assert_array_equal(ds.x_train, parts[0][0].astype(np.float64))
    np.testing.assert_array_equal(ds.labels_test, parts[2][1])


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_load_pkl_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(_Evil(), f, protocol=2)
    with pytest.raises(ValueError, match="refusing to load"):
        training.load_pkl(path)
    with gzip.open(path, "wb") as f:
        pickle.dump((np.zeros(3), np.zeros(3)), f, protocol=2)
    with pytest.raises(ValueError, match="triple"):
        training.load_pkl(path)


def test_digits_embedded():
    ds = training.load_dataset("digits")
    assert ds.n_inputs == 64 and ds.image_shape == (8, 8)
    assert len(ds.labels_train) == 1500 and len(ds.labels_test) == 297
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # the bundled set cycles 0, 1, ..., 9 at its start
    assert ds.labels_train[:10].tolist() == list(range(10))
    assert ds.head(1000).x_train.shape == (1000, 64)
    with pytest.raises(ValueError, match="n_train"):
        ds.head(2000)


def test_one_hot_and_spec_errors():
    y = training.one_hot(np.array([2, 0, 9]))
    np.testing.assert_array_equal(y, np.eye(10)[[2, 0, 9]])
    with pytest.raises(ValueError, match="0..9"):
        training.one_hot(np.array([10]))
    with pytest.raises(TypeError, match="integer"):
        training.one_hot(np.array([1.0]))
    with pytest.raises(ValueError, match="expected one of digits"):
        training.load_dataset("cifar")
    with pytest.raises(ValueError, match="expected one of digits"):
        training.load_dataset("idx:")


def _fashion_dir():
    directory = os.environ.get("GRADBOUNDS_FASHION_MNIST") or training.FASHION_MNIST_DIR
    if not Path(directory).is_dir():
        if os.environ.get("GRADBOUNDS_REQUIRE_FASHION") == "1":
            pytest.fail(
                f"GRADBOUNDS_REQUIRE_FASHION=1 but {directory} is missing: apt-get install dataset-fashion-mnist "
                "(or set GRADBOUNDS_FASHION_MNIST)"
            )
        pytest.skip(f"Fashion-MNIST not installed at {directory} (set GRADBOUNDS_REQUIRE_FASHION=1 to require it)")
    return directory


def test_fashion_mnist_installed():
    _fashion_dir()
    ds = training.load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.image_shape == (28, 28)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class
    assert np.bincount(ds.labels_train).tolist() == [6000] * 10
    assert np.bincount(ds.labels_test).tolist() == [1000] * 10
