"""The pipeline's data: the bundled task and corpus, the pretraining split, the labels check.

Example:

```python
train, validation, test, unlabelled = bundled_task()
corpus, held_out = split_corpus(bundled_corpus(), words=300_000, seed=42)
```
"""

import numpy as np

from ulmfit_tf import datasets
from ulmfit_tf.errors import UserInputError


def bundled_task():
    """The main job's task: Rotten Tomatoes `(train, validation, test, unlabelled)`, labels as names."""
    reviews = datasets.load_rotten_tomatoes()
    names = reviews["label_names"]

    def split(name):
        return reviews[name]["texts"], [names[i] for i in reviews[name]["labels"]]

    return split("train"), split("validation"), split("test"), reviews["plot_summaries"]


def bundled_corpus():
    """The main job's corpus for `--pretrain`: the texts of the 2017 news articles."""
    return [article["text"] for article in datasets.load_news_articles()]


def split_corpus(texts, words, seed):
    """The pipeline's pretraining split: `(train, validation)` texts.

    Empty texts are dropped; a seeded 5% of the texts (at least one) is
    held out, and the training texts are the first of the rest up to
    `words` words (all of them when `words` is `None`).

    Args:
        texts: List of strings.
        words: Integer or `None`, the training words to keep.
        seed: Integer.

    Returns:
        Two lists of strings.

    Example:

    ```python
    train, validation = split_corpus(news, words=300_000, seed=42)
    ```
    """
    texts = [t for t in texts if t.strip()]
    order = np.random.default_rng(seed).permutation(len(texts))
    n_valid = max(1, len(texts) // 20)
    valid = [texts[i] for i in order[:n_valid]]
    rest = [texts[i] for i in order[n_valid:]]
    if words is not None:
        counts = np.cumsum([len(t.split()) for t in rest])
        rest = rest[: max(1, int(np.searchsorted(counts, words)) + 1)]
    return rest, valid


def check_labels_seen(train, test, validation=None):
    """Refuses, before any training, test or validation labels that the training labels never show.

    Example:

    ```python
    check_labels_seen((texts, ["fresh", "rotten"]), (test_texts, ["fresh", "meh"]))  # UserInputError
    ```
    """
    known = _names(train[1])
    for name, split in (("test", test), ("validation", validation)):
        if split is None:
            continue
        unseen = sorted(_names(split[1]) - known)
        if unseen:
            raise UserInputError(
                f"The {name} labels {unseen[:5]} never occur in the training labels ({sorted(known)[:10]}): "
                "fix the label column or the files."
            )


def _names(labels):
    """The class names among labels: each label's, or (multi-label) each name in its list."""
    return {str(name) for label in labels for name in (label if isinstance(label, (list, tuple)) else [label])}


def word_count(texts):
    """Words (split on whitespace) in a list of texts."""
    return sum(len(t.split()) for t in texts)
