"""`python -m tfnas COMMAND ...`: the same as the `tfnas` console script."""

import sys

from tfnas.cli import main

if __name__ == "__main__":
    sys.exit(main())
