"""Arrays in a saved state (``journal/state_codec.py``): numeric arrays are kept as their bytes
(compressed when they hold NaN), the earlier list form still loads, and a damaged or oversized
array is refused with a ValueError, never a crash or a huge allocation."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fleetscale.journal.state_codec import MAX_ARRAY_BYTES, decode, encode


def _trip(value: Any) -> Any:
    return decode(json.loads(json.dumps(encode(value))))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=2, max_side=40)))
def test_round_trip_is_exact_and_read_only(array: np.ndarray[Any, Any]) -> None:
    back = _trip(array)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=array.dtype.kind == "f")
    assert not back.flags.writeable


def test_a_mostly_unknown_ring_is_compressed() -> None:
    ring = np.full(6048, np.nan)
    ring[:300] = np.linspace(1.0, 90.0, 300)
    doc = encode(ring)
    assert doc["z"] is True and isinstance(doc["$nd"], str)
    assert len(json.dumps(doc)) < len(json.dumps(ring.tolist())) / 3
    assert np.array_equal(_trip(ring), ring, equal_nan=True)


def test_the_earlier_list_form_still_loads() -> None:
    back = decode({"$nd": [1.0, float("nan"), 3.0], "dtype": "float64"})
    assert np.array_equal(back, np.array([1.0, np.nan, 3.0]), equal_nan=True)
    assert not back.flags.writeable


def _doc(body: bytes, shape: list[int], z: bool, dtype: str = "float64") -> dict[str, Any]:
    return {"$nd": base64.b64encode(body).decode(), "dtype": dtype, "shape": shape, "z": z}


@pytest.mark.parametrize(("doc", "words"), [
    (_doc(b"\0" * 16, [3], False), "does not match"),
    (_doc(zlib.compress(b"\0" * 10_000_000), [4], True), "does not match"),  # a bomb stops early
    (_doc(b"", [MAX_ARRAY_BYTES], False), "refused"),
    (_doc(b"", [-1], False), "refused"),
    ({"$nd": "not base64!", "dtype": "float64", "shape": [1], "z": False}, "bad array"),
    (_doc(b"\0" * 8, [1], False, dtype="object"), "bad array"),
    (_doc(b"\0" * 8, [1], False, dtype="no-such-type"), "dtype"),
], ids=["short", "bomb", "too-big", "negative", "not-base64", "object", "unknown-dtype"])
def test_a_damaged_array_is_refused(doc: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        decode(doc)
