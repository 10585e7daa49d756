"""``python -m tfdpfair`` is the ``tfdpfair`` command."""
import sys

from tfdpfair.cli import main

sys.exit(main())
