"""The `ulmfit-tf` command: the ULMFiT stages on your own files.

Every command reads texts from `.txt` (one text per line), `.csv`, `.tsv` or
`.jsonl` files, writes model folders (see `model_directory`), and reports
bad input in one line with exit status 2, never a traceback.

Modules: `main` (the entry point), `commands` (the list of commands),
`parser` and `arguments` (the options; the training settings generated
from `ulmfit_tf.recipe`), and one module per group of commands
(`train_commands`, `predict_commands`, `export_command`,
`pipeline_command`) with `inputs` and `outputs` they share.

Example:

```python
from ulmfit_tf import cli

cli.main(["fit-classifier", "--language-model", "awd_lstm_small_en_uncased", "--train", "train.csv", "--output", "clf"])
```
"""

import os

# Before anything imports Keras: the command line runs on TensorFlow, quietly.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ulmfit_tf.cli.main import build_parser  # noqa: E402
from ulmfit_tf.cli.main import main  # noqa: E402

__all__ = ["build_parser", "main"]
