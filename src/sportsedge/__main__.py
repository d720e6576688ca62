import sys

from sportsedge.cli import main

sys.exit(main())
