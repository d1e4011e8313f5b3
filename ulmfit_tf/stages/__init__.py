"""The three ULMFiT stages, each a thin composition of Keras objects.

`pretrain_language_model` → `finetune_language_model` → `fit_classifier`,
then `evaluate` and `predict`. Each stage builds the model, a `tf.data`
pipeline, an optimizer (`DiscriminativeOptimizer` around AdamW under
`SlantedTriangularLR`) and callbacks (`GradualUnfreezing`,
`EpochCheckpoint`, `TerminateOnNaN`), and calls `model.fit`: there is no
training loop of our own, and every object can be used on its own.

Each stage takes its settings (`ulmfit_tf.recipe`: `PretrainSettings`,
`FinetuneSettings`, `ClassifierSettings`) as `settings=` and any of them as
keyword overrides, and how it runs as keywords too (`RunOptions`:
`checkpoint_dir`, `seed`, `strategy`, `dtype_policy`, `callbacks`,
`verbose`). With `checkpoint_dir` a checkpoint is written atomically after
each epoch, and calling the stage again with the same arguments resumes
from it and ends with the same weights as an uninterrupted run
(`stages.fingerprints` says what "the same" means). `seed` makes runs
reproducible. `backwards=True` trains on reversed text
(the paper's backward models); `predict` and `evaluate` average the
probabilities of several classifiers (forward + backward ensemble).

Modules: `pretrain`, `finetune`, `classifier` (with its LR range test),
`inference` (predict, evaluate, perplexity), `language_model_training`
(what both language-model stages share), `run_options`, `fingerprints`,
`checks`.

Example:

```python
from ulmfit_tf import stages

lm = stages.pretrain_language_model(news, epochs=1)
tuned = stages.finetune_language_model(lm, reviews)
classifier = stages.fit_classifier(tuned, texts, labels, epochs=3)
stages.evaluate(classifier, test_texts, test_labels)["accuracy"]
```
"""

from ulmfit_tf.stages.classifier import classifier_lr_find
from ulmfit_tf.stages.classifier import fit_classifier
from ulmfit_tf.stages.finetune import finetune_language_model
from ulmfit_tf.stages.inference import evaluate
from ulmfit_tf.stages.inference import perplexity
from ulmfit_tf.stages.inference import predict
from ulmfit_tf.stages.pretrain import pretrain_language_model
from ulmfit_tf.stages.run_options import RunOptions

__all__ = [
    "RunOptions",
    "classifier_lr_find",
    "evaluate",
    "finetune_language_model",
    "fit_classifier",
    "perplexity",
    "predict",
    "pretrain_language_model",
]
