"""`ulmfit-tf generate`: a language model writes text after each prompt."""

import keras
import keras_hub

from ulmfit_tf.cli.inputs import command_line_texts
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.presets import load_language_model

# KerasHub's samplers with their default settings; `seed` seeds the random ones.
_SAMPLERS = {
    "greedy": lambda seed: keras_hub.samplers.GreedySampler(),
    "top_k": lambda seed: keras_hub.samplers.TopKSampler(seed=seed),
    "top_p": lambda seed: keras_hub.samplers.TopPSampler(seed=seed),
    "beam": lambda seed: keras_hub.samplers.BeamSampler(),
    "random": lambda seed: keras_hub.samplers.RandomSampler(seed=seed),
    "contrastive": lambda seed: keras_hub.samplers.ContrastiveSampler(),
}


def run(args):
    """Loads `--model`, writes each `--prompt`'s text on a line of its own; returns 0.

    Example:

    ```python
    run(build_parser().parse_args(["generate", "--model", "awd_lstm_small_en_uncased", "--prompt", "The film"]))
    ```
    """
    language_model = load_language_model(args.model)
    tokenizer = getattr(language_model.preprocessor, "tokenizer", None)
    if tokenizer is None:
        raise UserInputError(
            f"--model {args.model}: this language model has no tokenizer to read a prompt with; give one saved with "
            "its tokenizer (a preset, or a folder written by `pretrain` or `finetune-lm`)."
        )
    if getattr(tokenizer, "reverse", False):
        raise UserInputError(
            f"--model {args.model}: a backward language model (it reads text last to first) cannot continue a "
            "prompt; give a forward one."
        )
    keras.utils.set_random_seed(args.seed)
    language_model.compile(sampler=_SAMPLERS[args.sampler](args.seed))
    texts = language_model.generate(
        command_line_texts(args.prompt), max_length=args.max_length, strip_prompt=args.strip_prompt
    )
    for text in texts:
        print(text)
    return 0
