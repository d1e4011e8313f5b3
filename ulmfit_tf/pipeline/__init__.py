"""ULMFiT end to end: pretrain, fine-tune the LM, fit the classifier, test.

Used by `python -m ulmfit_tf.demo` (the bundled data) and by `ulmfit-tf
pipeline` (your files). `run_pipeline` (in `run`) runs the stages of a
`Recipe` (`ulmfit_tf.recipe`), reusing each stage's folder when its
fingerprint matches; `data` holds the bundled task and corpus and the
pretraining split; `exports` the exports tested at the end.

Example:

```python
from ulmfit_tf.pipeline import run_pipeline
from ulmfit_tf.pipeline.data import bundled_task

train, validation, test, unlabelled = bundled_task()
results, classifier = run_pipeline([], train, test, validation, unlabelled, recipe="small")
```
"""

from ulmfit_tf.pipeline.run import run_pipeline

__all__ = ["run_pipeline"]
