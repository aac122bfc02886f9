"""`python -m model_medic.status`: the `model-medic` command, where it is not installed as a script."""

import sys

from model_medic.status.cli import main

sys.exit(main())
