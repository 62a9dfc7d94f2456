"""Training: Nielsen's chapter-5 experiment, per-layer speeds of learning, a monitor, loggers, datasets.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 3 and ch. 5.
"""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.training._data import DATASET_SPECS as DATASET_SPECS
from gradbounds.training._data import FASHION_MNIST_DIR as FASHION_MNIST_DIR
from gradbounds.training._data import Dataset as Dataset
from gradbounds.training._data import load_dataset as load_dataset
from gradbounds.training._data import load_digits as load_digits
from gradbounds.training._data import load_idx as load_idx
from gradbounds.training._data import load_pkl as load_pkl
from gradbounds.training._data import one_hot as one_hot
from gradbounds.training._data import read_idx as read_idx

from gradbounds.training._published import load_published_speeds as load_published_speeds
from gradbounds.training._published import published_dir as published_dir
from gradbounds.training._published import published_initial_speeds as published_initial_speeds

from gradbounds.training._protocols import PRESETS as PRESETS
from gradbounds.training._protocols import REMEDIES as REMEDIES
from gradbounds.training._protocols import Plan as Plan
from gradbounds.training._protocols import Protocol as Protocol
from gradbounds.training._protocols import optimizer as optimizer
from gradbounds.training._protocols import preset as preset

from gradbounds.training._train import TrainResult as TrainResult
from gradbounds.training._train import accuracy as accuracy
from gradbounds.training._train import compare_remedies as compare_remedies
from gradbounds.training._train import epoch_order as epoch_order
from gradbounds.training._train import layer_statistics as layer_statistics
from gradbounds.training._train import speeds as speeds
from gradbounds.training._train import summarize as summarize
from gradbounds.training._train import train as train

from gradbounds.training import loggers as loggers
from gradbounds.training.loggers import CallbackLogger as CallbackLogger
from gradbounds.training.loggers import CSVLogger as CSVLogger
from gradbounds.training.loggers import JSONLinesLogger as JSONLinesLogger
from gradbounds.training.loggers import TensorBoardLogger as TensorBoardLogger

from gradbounds.training._monitor import MonitorReport as MonitorReport
from gradbounds.training._monitor import SlowLayerWarning as SlowLayerWarning
from gradbounds.training._monitor import SpeedMonitorState as SpeedMonitorState
from gradbounds.training._monitor import as_network as as_network
from gradbounds.training._monitor import monitor as monitor
from gradbounds.training._monitor import speed_monitor as speed_monitor

__all__ = (
    "DATASET_SPECS",
    "FASHION_MNIST_DIR",
    "Dataset",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_pkl",
    "one_hot",
    "read_idx",
    "load_published_speeds",
    "published_dir",
    "published_initial_speeds",
    "PRESETS",
    "REMEDIES",
    "Plan",
    "Protocol",
    "optimizer",
    "preset",
    "TrainResult",
    "accuracy",
    "compare_remedies",
    "epoch_order",
    "layer_statistics",
    "speeds",
    "summarize",
    "train",
    "loggers",
    "CallbackLogger",
    "CSVLogger",
    "JSONLinesLogger",
    "TensorBoardLogger",
    "MonitorReport",
    "SlowLayerWarning",
    "SpeedMonitorState",
    "as_network",
    "monitor",
    "speed_monitor",
)
