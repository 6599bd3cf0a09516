"""`python -m service` is the `phantomwatch` command."""

import sys

from service.cli import main

sys.exit(main())
