import sys

from access_checker.cli import main

sys.exit(main())
