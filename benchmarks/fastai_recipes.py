"""The fastai 2.8 side of `fastai_side_by_side.py`: ULMFiT's stages in fastai, on given token ids.

Each function mirrors the `ulmfit_tf.stages` function of the same name, built
from fastai's own pieces: `get_language_model` / `get_text_classifier(AWD_LSTM)`,
`LMDataLoader` (the stateful LM stream) and `SortedDL` + `pad_input_chunk`
(length-sorted classifier batches), a `TextLearner` (AR/TAR, state resets)
with fastai's Adam, and `fit_one_cycle` (or ulmfit-tf's slanted triangular
rates through a `ParamScheduler`). The documents come as lists of integer ids,
so fastai's tokenizer and vocabulary are not involved.

`settings` (a dict, one per stage) holds the training settings: `beta_1`,
`beta_2`, `epsilon`, `weight_decay`, `clip_norm` (of the global gradient
norm, or None), `ar_alpha`, `tar_beta` (AR/TAR weights, 0 for none),
`decay_all` (weight decay on biases and BatchNorm too, as Keras' AdamW does;
fastai's default skips them), `cyclic_momentum` (fastai's TextLearner cycle
(0.8, 0.7, 0.8) instead of a constant `beta_1`) and `schedule`
(`"one-cycle"` or `"stlr"`).
"""

import math
from functools import partial

import numpy as np
import torch
from fastai.text.all import AWD_LSTM
from fastai.text.all import Adam
from fastai.text.all import Callback
from fastai.text.all import CancelValidException
from fastai.text.all import CrossEntropyLossFlat
from fastai.text.all import DataLoaders
from fastai.text.all import GradientClip
from fastai.text.all import LMDataLoader
from fastai.text.all import ParamScheduler
from fastai.text.all import ProgressCallback
from fastai.text.all import SortedDL
from fastai.text.all import TensorCategory
from fastai.text.all import TensorText
from fastai.text.all import TextLearner
from fastai.text.all import awd_lstm_clas_config
from fastai.text.all import awd_lstm_clas_split
from fastai.text.all import awd_lstm_lm_config
from fastai.text.all import awd_lstm_lm_split
from fastai.text.all import get_language_model
from fastai.text.all import get_text_classifier
from fastai.text.all import pad_input_chunk
from fastai.text.all import set_seed

from ulmfit_tf.schedules import SlantedTriangularLR

PADDING_ID = 1  # xxpad, in ulmfit-tf's SentencePiece ids as in fastai's vocabularies
# On 2 shared cores PyTorch's OpenMP spin-waits make 2 threads ~10x slower than 1.
torch.set_num_threads(1)


def pretrain_language_model(documents, validation_windows, vocabulary_size, sizes, dropout_multiplier, batch_size,
                            bptt, epochs, learning_rate, settings, seed):
    """A new AWD-LSTM LM trained on `documents`; returns `(model, perplexity after each epoch)`."""
    set_seed(seed, reproducible=True)
    model = get_language_model(AWD_LSTM, vocabulary_size, config=_config(awd_lstm_lm_config, sizes),
                               drop_mult=dropout_multiplier)
    return model, _fit_language_model(model, documents, validation_windows, batch_size, bptt, epochs,
                                      learning_rate, settings, factor=None)


def finetune_language_model(source, documents, validation_windows, vocabulary_size, sizes, dropout_multiplier,
                            batch_size, bptt, epochs, learning_rate, factor, settings, seed):
    """A copy of `source` fine-tuned on `documents`, all groups at once with rates divided by `factor` per group."""
    set_seed(seed, reproducible=True)
    model = get_language_model(AWD_LSTM, vocabulary_size, config=_config(awd_lstm_lm_config, sizes),
                               drop_mult=dropout_multiplier)
    model.load_state_dict(source.state_dict())
    return model, _fit_language_model(model, documents, validation_windows, batch_size, bptt, epochs,
                                      learning_rate, settings, factor=factor)


def fit_classifier(encoder, documents, labels, num_classes, vocabulary_size, sizes, dropout_multiplier, batch_size,
                   bptt, max_len, epochs, learning_rate, factor, gradual_unfreezing, settings, seed):
    """An AWD-LSTM classifier whose encoder starts from `encoder` (an LM's, or None: random).

    With `gradual_unfreezing`, fastai's recipe as the paper describes it:
    `freeze_to(-1)`, `(-2)`, `(-3)` for one epoch each, then everything for
    the remaining epochs; under `"one-cycle"` each step is its own
    `fit_one_cycle` (fastai's way), under `"stlr"` one schedule runs over all
    epochs and the groups are unfrozen at epoch boundaries (ulmfit-tf's way).
    """
    set_seed(seed, reproducible=True)
    model = get_text_classifier(AWD_LSTM, vocabulary_size, num_classes, seq_len=bptt,
                                config=_config(awd_lstm_clas_config, sizes), drop_mult=dropout_multiplier,
                                max_len=max_len)
    if encoder is not None:
        model[0].module.load_state_dict(encoder[0].state_dict())
    train = classifier_loader(documents, labels, batch_size, bptt, shuffle=True)
    learn = _learner(train, model, awd_lstm_clas_split, settings)
    groups = len(awd_lstm_clas_split(model))
    rate = _discriminative(learning_rate, factor, groups)
    if not gradual_unfreezing:
        _fit(learn, epochs, rate, settings)
        return model
    counts = unfreezing_counts(epochs, groups)
    if settings["schedule"] == "stlr":
        _fit(learn, epochs, rate, settings, callbacks=[_UnfreezeEachEpoch(counts)])
        return model
    for count in sorted(set(counts)):
        learn.freeze_to(-count)  # also clears the optimizer state, as fastai's recipe does between steps
        _fit(learn, counts.count(count), rate, settings)
    return model


def unfreezing_counts(epochs, groups):
    """Trainable top groups in each epoch, as ulmfit-tf's `fit_classifier` unfreezes them: 1, 2, 3, then all."""
    schedule = [n for n in (1, 2, 3) if n < groups] + [groups]
    return [schedule[min(epoch, len(schedule) - 1)] for epoch in range(epochs)]


def perplexity(model, windows):
    """Per-token perplexity of an LM over `(x, y)` windows read in order with the state carried."""
    model.eval()
    model.reset()
    total = count = 0
    with torch.no_grad():
        for x, y in windows:
            logits = model(torch.from_numpy(x).long())[0]
            targets = torch.from_numpy(y).long().reshape(-1)
            total += torch.nn.functional.cross_entropy(logits.reshape(len(targets), -1).float(), targets,
                                                       reduction="sum").item()
            count += len(targets)
    model.reset()
    model.train()
    return math.exp(total / count)


def accuracy(model, documents, labels, batch_size, bptt):
    """Share of `documents` whose predicted class is their label."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in classifier_loader(documents, labels, batch_size, bptt, shuffle=False):
            correct += int((model(x)[0].argmax(dim=-1) == y).sum())
    model.train()
    return correct / len(documents)


def classifier_loader(documents, labels, batch_size, bptt, shuffle):
    """fastai's text-classifier batches: sorted by length, padded in `bptt` chunks before the text."""
    items = [(TensorText(torch.as_tensor(ids)), TensorCategory(int(label))) for ids, label in zip(documents, labels)]
    return SortedDL(items, res=[len(ids) for ids in documents], bs=batch_size, shuffle=shuffle, drop_last=shuffle,
                    before_batch=partial(pad_input_chunk, pad_idx=PADDING_ID, pad_first=True, seq_len=bptt))


def _fit_language_model(model, documents, validation_windows, batch_size, bptt, epochs, learning_rate, settings,
                        factor):
    train = LMDataLoader([torch.as_tensor(ids) for ids in documents], bs=batch_size, seq_len=bptt, shuffle=True)
    learn = _learner(train, model, awd_lstm_lm_split, settings)
    perplexities = []
    rate = learning_rate if factor is None else _discriminative(learning_rate, factor, len(awd_lstm_lm_split(model)))
    _fit(learn, epochs, rate, settings, callbacks=[_PerplexityEachEpoch(validation_windows, perplexities)])
    return perplexities


def _learner(train, model, splitter, settings):
    """A TextLearner on `train` with `settings`; its own validation is skipped (the caller measures)."""
    dls = DataLoaders(train, train.new(shuffle=False, drop_last=False), device="cpu")
    clip_norm = settings["clip_norm"]
    learn = TextLearner(
        dls, model, alpha=settings["ar_alpha"], beta=settings["tar_beta"], loss_func=CrossEntropyLossFlat(),
        splitter=splitter, opt_func=partial(Adam, sqr_mom=settings["beta_2"], eps=settings["epsilon"]),
        wd=settings["weight_decay"], wd_bn_bias=settings["decay_all"],
        cbs=[GradientClip(clip_norm)] if clip_norm else None,
    )
    learn.remove_cb(ProgressCallback)  # fastai then prints one line per epoch: [epoch, train loss, time]
    return learn


def _fit(learn, epochs, rate, settings, callbacks=()):
    callbacks = [_SkipValidation()] + list(callbacks)
    beta_1 = settings["beta_1"]
    if settings["schedule"] == "one-cycle":
        moms = None if settings["cyclic_momentum"] else (beta_1,) * 3
        learn.fit_one_cycle(epochs, rate, moms=moms, cbs=callbacks)
        return
    if learn.opt is None:
        learn.create_opt()
    learn.opt.set_hyper("lr", rate)
    peaks = np.array([hyper["lr"] for hyper in learn.opt.hypers])
    total = epochs * len(learn.dls.train)
    # ulmfit-tf's own schedule, evaluated at every step (fastai passes the fraction of training done).
    shape = np.asarray(SlantedTriangularLR(1.0, total_steps=total)(np.arange(total + 1)))
    schedule = {"lr": lambda pct: peaks * shape[min(total, round(pct * total))], "mom": lambda pct: beta_1}
    learn.fit(epochs, cbs=[ParamScheduler(schedule)] + callbacks)


def _discriminative(learning_rate, factor, groups):
    """fastai's `slice(lr / factor ** (groups - 1), lr)`: the top group at `lr`, each below it `factor` slower."""
    return learning_rate if factor == 1 else slice(learning_rate / factor ** (groups - 1), learning_rate)


def _config(base, sizes):
    return dict(base, emb_sz=sizes["embedding_dim"], n_hid=sizes["hidden_dim"], n_layers=sizes["num_layers"])


class _SkipValidation(Callback):
    def before_validate(self):
        raise CancelValidException()


class _PerplexityEachEpoch(Callback):
    def __init__(self, windows, record):
        self.windows, self.record = windows, record

    def after_epoch(self):
        self.record.append(perplexity(self.learn.model, self.windows))


class _UnfreezeEachEpoch(Callback):
    """Within one fit: `counts[epoch]` top groups train (no reset of the optimizer state, as in Keras)."""

    def __init__(self, counts):
        self.counts = counts

    def before_epoch(self):
        self.learn.opt.freeze_to(-self.counts[self.epoch])
