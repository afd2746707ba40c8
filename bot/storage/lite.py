"""sqlite-utils, imported without numpy.

sqlite-utils imports numpy whenever it is installed (matplotlib, which draws the digest's chart,
brings it) only to map numpy scalar types to SQLite; Shipbell never stores numpy values.  That
import alone is 16 MB of an idle server's memory and a tenth of a second of its start-up, so it
is declined here: while sqlite-utils loads, ``import numpy`` fails as if it were absent; then
the way is cleared again, and the chart imports numpy normally when it is first drawn.
"""

from __future__ import annotations

import sys

_declined = "numpy" not in sys.modules
if _declined:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` fail
try:
    import sqlite_utils
finally:
    if _declined:
        del sys.modules["numpy"]

__all__ = ["sqlite_utils"]
