"""``python -m kimiproxy.cli``: the same as the ``kimiproxy`` command."""

import sys

from kimiproxy.cli.main import main

sys.exit(main())
