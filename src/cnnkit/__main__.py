"""`python -m cnnkit ...` runs the command line (what torchrun launches: `torchrun ... -m cnnkit train DATA`)."""

import sys

from cnnkit.cli.main import main

sys.exit(main())
