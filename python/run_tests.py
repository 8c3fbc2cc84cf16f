"""Runs python/tests with pytest (the CTest python_leap): exit code 77, which
ctest reports as skipped, with a message when pytest or numpy is missing
(Debian: python3-pytest, python3-numpy; .ci/install-deps installs them), or
when $LEAP_PY_SKIP gives a reason (tests/CMakeLists.txt: a sanitizer build)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if os.environ.get("LEAP_PY_SKIP"):
    print(f"SKIPPED: {os.environ['LEAP_PY_SKIP']}")
    sys.exit(77)

missing = []
for mod in ("pytest", "numpy"):
    try:
        __import__(mod)
    except ImportError:
        missing.append(mod)
if missing:
    print(f"SKIPPED: {sys.executable} has no {' or '.join(missing)} (python3-pytest, python3-numpy)")
    sys.exit(77)

import pytest  # noqa: E402

sys.path.insert(0, HERE)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", os.path.join(HERE, "tests")] + sys.argv[1:]))
