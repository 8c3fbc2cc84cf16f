"""What the pytest files of python/tests share: the fixtures of tests/data
($LEAP_TEST_DATA; default: the repository's) and a CPU context."""
import os

import pytest

import leap

DATA = os.environ.get("LEAP_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
IMAGE = os.path.join(DATA, "dit_tiny_f32.safetensors")
VIDEO = os.path.join(DATA, "video_dit_tiny_f32.safetensors")


@pytest.fixture
def ctx():
    with leap.Context("cpu", threads=1) as c:
        yield c
