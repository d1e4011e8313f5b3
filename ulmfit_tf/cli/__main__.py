"""`python -m ulmfit_tf.cli`: the `ulmfit-tf` command."""

import sys

from ulmfit_tf.cli.main import main

sys.exit(main())
