"""Files in and out: the one JSON codec (±inf encoding), network and example ``.npz`` files."""

# ruff: noqa: I001  (one name a line, as optax does)

from gradbounds.io._json import from_json_number as from_json_number
from gradbounds.io._json import json_array as json_array
from gradbounds.io._json import read_json as read_json
from gradbounds.io._json import to_json as to_json
from gradbounds.io._json import write_json as write_json
from gradbounds.io._json import SCHEMA_VERSION as SCHEMA_VERSION
from gradbounds.io._json import NONFINITE as NONFINITE
from gradbounds.io._json import json_header as json_header
from gradbounds.io._json import load_schema as load_schema

from gradbounds.io._files import load_examples as load_examples
from gradbounds.io._files import load_network as load_network
from gradbounds.io._files import save_network as save_network

__all__ = (
    "from_json_number",
    "json_array",
    "read_json",
    "to_json",
    "write_json",
    "SCHEMA_VERSION",
    "NONFINITE",
    "json_header",
    "load_schema",
    "load_examples",
    "load_network",
    "save_network",
)
