"""Builds ulmfit-tf models from fastai AWD-LSTM weights."""

import os
import re

import numpy as np

from ulmfit_tf.convert.torch_file import read_state_dict
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import CLASSIFIER_DROPOUTS
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.models.dropouts import backbone_dropouts
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier
from ulmfit_tf.text.classification_dataset import PADDING_ID
from ulmfit_tf.text.word_tokenizer import WordTokenizer

TASKS = ("language_model", "classifier")

# Where the encoder's tensors sit in the state dicts that exist: fastai v1/v2
# language models (`0.`), their classifiers (`0.module.`), bare AWD_LSTM
# modules (no prefix).
_ENCODER_PREFIXES = ("0.", "0.module.", "")
# Names of the embedding matrix: fastai v1/v2, then the paper-era fastai 0.7.
_EMBEDDING_NAMES = ("encoder.weight", "encoder_with_dropout.embed.weight")
# The raw (undropped) recurrent weight: fastai v1/v2, then fastai 0.7.
_RECURRENT_NAMES = ("rnns.{i}.weight_hh_l0_raw", "rnns.{i}.module.weight_hh_l0_raw")


def from_fastai(state_dict, task="language_model", **options):
    """Builds a Keras model holding the weights of a fastai AWD-LSTM.

    The sizes (vocabulary, embedding, hidden units, layers, head) are read
    from the tensors. The model computes what the fastai model computes in
    eval mode: PyTorch's LSTM gates (i, f, g, o) are Keras' (i, f, c, o), so
    the kernels are the transposed PyTorch weights and the bias is
    `bias_ih + bias_hh`; BatchNorm statistics are loaded as they are.

    Args:
        state_dict: The fastai weights: a mapping of parameter name to array
            (numpy or torch), a path to an `.npz` file of the same, or a path
            to a `.pth` file saved by fastai or PyTorch (read without torch
            and without running any code it holds, see
            `convert.torch_file`), bare or as `Learner.save`'s
            `{"model": ..., "opt": ...}`. Language model layouts: a saved
            `language_model_learner` (`0.encoder.weight`,
            `0.rnns.0.weight_hh_l0_raw`, ..., `1.decoder.weight`,
            `1.decoder.bias`), a bare `AWD_LSTM` with an optional decoder
            (`encoder.weight`, ..., `decoder.bias`), and the paper-era
            fastai 0.7 names (`0.encoder_with_dropout.embed.weight`,
            `0.rnns.0.module.weight_hh_l0_raw`). Classifier layout: a saved
            `text_classifier_learner` (`0.module.encoder.weight`, ...,
            `1.layers.0.0.weight` (BatchNorm), `1.layers.0.2.weight`
            (Linear), ...).
        task: String, `"language_model"` or `"classifier"`.
        **options: Keyword arguments of the model. Both tasks: `vocab`,
            fastai's `itos` list; `dropout_multiplier` (float, default 1.0);
            `seed`; any dropout rate (`embedding_dropout`, ...) to override
            fastai's defaults (`awd_lstm_lm_config`, `awd_lstm_clas_config`).
            Language model: `stateful` (bool) and `batch_size` (int), to
            carry the LSTM state between calls as fastai's does; `vocab`
            becomes the model's `vocabulary`; `preprocessor` (e.g.
            `WordTokenizer(vocabulary=vocab)`), its tokenizer. Classifier:
            `bptt` (default 72) and `max_len` (default 1440), fastai's BPT3C
            `seq_len` and `max_len`; `labels`, the class names
            (`learn.dls.vocab[1]`); with `vocab`, the classifier's
            `preprocessor` is a `WordTokenizer` over that vocabulary, so it
            takes raw strings.

    Returns:
        A `ULMFiTLanguageModel`, or a `ULMFiTTextClassifier`.

    Example:

    ```python
    model = ulmfit_tf.convert.from_fastai("lm.pth", vocab=itos)
    model.predict(token_ids)  # next-token logits, as fastai's
    classifier = ulmfit_tf.convert.from_fastai(
        "classifier.pth", task="classifier", vocab=itos, labels=["neg", "pos"]
    )
    ```
    """
    if task not in TASKS:
        raise ValueError(
            f"Argument `task` must be one of {TASKS}. Received: task={task!r}"
        )
    weights = _load_state_dict(state_dict)
    encoder = _encoder_tensors(weights)
    options = dict(options)
    vocab = options.pop("vocab", None)
    dropouts = dict(LANGUAGE_MODEL_DROPOUTS if task == "language_model" else CLASSIFIER_DROPOUTS)
    dropouts.update(
        {k: options.pop(k) for k in list(options) if k in dropouts}
    )
    seed = options.get("seed")
    if task == "classifier":
        return _classifier(weights, encoder, vocab, dropouts, options)
    preprocessor = options.pop("preprocessor", None)
    backbone = _backbone(encoder, dropouts, options)
    model = ULMFiTLanguageModel(
        backbone,
        output_dropout=dropouts["output_dropout"],
        vocabulary=vocab,
        preprocessor=preprocessor,
        seed=seed,
    )
    _assign_encoder(backbone, encoder)
    _assign_decoder(model, weights, encoder["embedding"])
    return model


def _backbone(encoder, dropouts, options):
    vocabulary_size, embedding_dim = encoder["embedding"][1].shape
    num_layers = len(encoder["layers"])
    hidden_dim = (
        encoder["layers"][0]["recurrent"][1].shape[1]
        if num_layers > 1
        else embedding_dim
    )
    return AWDLSTMBackbone(
        vocabulary_size=int(vocabulary_size),
        embedding_dim=int(embedding_dim),
        hidden_dim=int(hidden_dim),
        num_layers=num_layers,
        **backbone_dropouts(dropouts),
        **options,
    )


def _classifier(weights, encoder, vocab, dropouts, options):
    labels = options.pop("labels", None)
    bptt = options.pop("bptt", 72)
    max_len = options.pop("max_len", 1440)
    blocks = []
    while f"1.layers.{len(blocks)}.2.weight" in weights:
        block = f"1.layers.{len(blocks)}."
        blocks.append(
            {
                "batch_norm": [
                    _required(weights, block + "0." + name)
                    for name in ("weight", "bias", "running_mean", "running_var")
                ],
                "dense": _required(weights, block + "2.weight"),
            }
        )
    if not blocks:
        raise ValueError(
            "The fastai state dict has no classifier head: expected keys like "
            "'1.layers.0.0.weight' (BatchNorm) and '1.layers.0.2.weight' (Linear) "
            "of a `text_classifier_learner`."
        )
    units = [int(block["dense"][1].shape[0]) for block in blocks]
    preprocessor = None
    if vocab is not None:
        preprocessor = WordTokenizer(vocabulary=list(vocab))
        if preprocessor.vocabulary_size() != len(encoder["embedding"][1]):
            raise ValueError(
                f"Argument `vocab` must hold one token per embedding row, {len(encoder['embedding'][1])} "
                f"tokens. Received: {preprocessor.vocabulary_size()} tokens"
            )
    backbone = _backbone(encoder, dropouts, dict(options, padding_id=PADDING_ID))
    classifier = ULMFiTTextClassifier(
        backbone,
        num_classes=units[-1],
        preprocessor=preprocessor,
        label_names=labels,
        bptt=bptt,
        max_len=max_len,
        hidden_dims=tuple(units[:-1]),
        output_dropout=dropouts["output_dropout"],
        seed=options.get("seed"),
    )
    _assign_encoder(backbone, encoder)
    for block, batch_norm, dense in zip(blocks, classifier.head.batch_norms, classifier.head.denses):
        for variable, (key, value) in zip(
            (batch_norm.gamma, batch_norm.beta, batch_norm.moving_mean, batch_norm.moving_variance),
            block["batch_norm"],
        ):
            _assign(variable, key, value)
        _assign(dense.kernel, *block["dense"], transpose=True)
    return classifier


def _load_state_dict(state_dict):
    if isinstance(state_dict, (str, os.PathLike)):
        path = os.fspath(state_dict)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No fastai weights file at {path!r}.")
        if path.endswith(".npz"):
            with np.load(path) as archive:
                state_dict = {k: archive[k] for k in archive.files}
        else:
            state_dict = read_state_dict(path)
    # `Learner.save` stores {"model": state_dict, "opt": ...}.
    if hasattr(state_dict, "items") and hasattr(state_dict.get("model"), "items"):
        state_dict = state_dict["model"]
    if not hasattr(state_dict, "items"):
        raise ValueError(
            "Argument `state_dict` must be a mapping of parameter names to "
            "arrays, or a path to an `.npz` or `.pth` file. "
            f"Received: state_dict={type(state_dict).__name__}"
        )
    return {name: _to_numpy(value) for name, value in state_dict.items()}


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _encoder_tensors(weights):
    """Finds the encoder's tensors: {"embedding": (key, array), "layers"}."""
    for prefix in _ENCODER_PREFIXES:
        embedding = _first_present(
            weights, [prefix + name for name in _EMBEDDING_NAMES]
        )
        if embedding is not None:
            break
    else:
        raise ValueError(
            "The fastai state dict has no embedding matrix: expected a key "
            f"named like {_ENCODER_PREFIXES[0] + _EMBEDDING_NAMES[0]!r}. "
            f"Received keys: {sorted(weights)[:10]}"
        )
    indices = sorted(
        {
            int(match.group(1))
            for key in weights
            for match in [re.match(re.escape(prefix) + r"rnns\.(\d+)\.", key)]
            if match
        }
    )
    if not indices:
        raise ValueError(
            f"The fastai state dict has no LSTM layers: expected keys like "
            f"'{prefix}rnns.0.module.weight_ih_l0'."
        )
    layers = []
    for i in range(indices[-1] + 1):
        module = f"{prefix}rnns.{i}.module."
        recurrent_names = [prefix + n.format(i=i) for n in _RECURRENT_NAMES]
        recurrent = _first_present(weights, recurrent_names)
        if recurrent is None:
            raise ValueError(
                f"Missing key {recurrent_names[0]!r} in the fastai state dict "
                f"(the raw recurrent weight of LSTM layer {i})."
            )
        layers.append(
            {
                "input": _required(weights, module + "weight_ih_l0"),
                "recurrent": recurrent,
                "bias_ih": _required(weights, module + "bias_ih_l0"),
                "bias_hh": _required(weights, module + "bias_hh_l0"),
            }
        )
    return {"prefix": prefix, "embedding": embedding, "layers": layers}


def _assign_encoder(backbone, encoder):
    _assign(backbone.token_embedding.embeddings, *encoder["embedding"])
    for lstm, tensors in zip(backbone.lstm_layers, encoder["layers"]):
        cell = lstm.cell
        _assign(cell.kernel, *tensors["input"], transpose=True)
        _assign(cell.recurrent_kernel, *tensors["recurrent"], transpose=True)
        (bias_key, bias_ih), (hh_key, bias_hh) = tensors["bias_ih"], tensors["bias_hh"]
        _check_shape(hh_key, bias_hh, bias_ih.shape)
        _assign(cell.bias, bias_key, bias_ih + bias_hh)


def _assign_decoder(model, weights, embedding):
    prefix = "1." if "1.decoder.bias" in weights else ""
    decoder_weight = weights.get(prefix + "decoder.weight")
    if decoder_weight is not None:
        _check_shape(prefix + "decoder.weight", decoder_weight, embedding[1].shape)
        if not np.array_equal(decoder_weight, embedding[1]):
            raise ValueError(
                f"The fastai decoder weight {prefix + 'decoder.weight'!r} is not "
                f"tied to the embedding {embedding[0]!r}; ulmfit-tf's language "
                "model ties them (fastai's `tie_weights=True`)."
            )
    bias = weights.get(prefix + "decoder.bias")
    if bias is not None:
        _assign(model.decoder_bias.bias, prefix + "decoder.bias", bias)


def _first_present(weights, keys):
    for key in keys:
        if key in weights:
            return key, weights[key]
    return None


def _required(weights, key):
    if key not in weights:
        raise ValueError(f"Missing key {key!r} in the fastai state dict.")
    return key, weights[key]


def _check_shape(key, value, expected_shape):
    if tuple(value.shape) != tuple(expected_shape):
        raise ValueError(
            f"The fastai tensor {key!r} has shape {tuple(value.shape)}, but the "
            f"model needs shape {tuple(expected_shape)} there."
        )


def _assign(variable, key, value, transpose=False):
    """Checks a fastai tensor against `variable` (transposed: a Keras kernel)."""
    expected = tuple(variable.shape)
    _check_shape(key, value, expected[::-1] if transpose else expected)
    variable.assign((value.T if transpose else value).astype(variable.dtype))
