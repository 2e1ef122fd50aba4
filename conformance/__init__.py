"""kimiproxy's conformance suite: replay recorded OpenAI SDK calls against any server.

Scenarios are data (``scenarios/*.json``); :mod:`invariants` holds the protocol rules as pure
functions; :mod:`engine` runs scenarios through a raw HTTP capture and the official ``openai``
SDKs for Python and Node.js; :mod:`cli` is ``kimiproxy conformance``; :mod:`pytest_plugin` runs
the same suite under pytest.
"""

from .config import SuiteConfig
from .engine import run
from .results import RowResult, SuiteReport
from .scenario import Scenario, load_scenarios
from .selection import Selection

__all__ = [
    "RowResult",
    "Scenario",
    "Selection",
    "SuiteConfig",
    "SuiteReport",
    "load_scenarios",
    "run",
]
