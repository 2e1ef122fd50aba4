"""``python -m kimiproxy_conformance``: the same as ``kimiproxy conformance``."""

import sys

from .cli import main

sys.exit(main())
