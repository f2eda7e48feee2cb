"""`python -m genbench.cli`: the `genbench` command."""

import sys

from genbench.cli import main

sys.exit(main())
