"""The arguments of `ulmfit-tf generate` (what `--help` shows); nothing here loads TensorFlow."""

from ulmfit_tf.cli.parser import positive_int

# KerasHub's samplers, by the names `CausalLM.compile(sampler=...)` takes.
SAMPLERS = ("greedy", "top_k", "top_p", "beam", "random", "contrastive")


def add_arguments(command):
    """`--model`, `--prompt` (once or more), `--max-length`, `--sampler`, `--strip-prompt`.

    Example:

    ```python
    add_arguments(commands.add_parser("generate"))
    ```
    """
    command.add_argument(
        "--model", required=True,
        help="language model: a bundled preset's name (e.g. awd_lstm_small_en_uncased), a preset folder, a folder written "
        "by `pretrain` or `finetune-lm`, or a fastai folder (one .pth and one .pkl)",
    )
    command.add_argument(
        "--prompt", required=True, action="append", metavar="TEXT",
        help="text to continue; repeat for several (each is written on its own line)",
    )
    command.add_argument(
        "--max-length", type=positive_int, default=64, metavar="N",
        help="tokens of prompt and text together (xxbos counts)",
    )
    command.add_argument(
        "--sampler", choices=SAMPLERS, default="top_k",
        help="how the next token is chosen (KerasHub's samplers; --seed seeds the random ones)",
    )
    command.add_argument("--strip-prompt", action="store_true", help="write only the text after each prompt")
