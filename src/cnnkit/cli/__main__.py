"""`python -m cnnkit.cli ...` runs the `cnnkit` command."""

import sys

from cnnkit.cli.main import main

sys.exit(main())
