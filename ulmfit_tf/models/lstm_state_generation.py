from keras import ops

from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID


class LSTMStateGeneration:
    """KerasHub's `CausalLM` generation for an AWD-LSTM, its LSTM states as the cache.

    `keras_hub.models.CausalLM.generate` runs a sampler over
    `generate_step`, which asks `call_with_cache` for the next token's
    logits. A transformer caches each position's keys and values; an LSTM's
    whole past is its `(h, c)` states, so the cache is one `(h, c)` pair per
    layer, `(batch, units)` each, and every step reads one token. The
    prompts are read first in one masked pass up to the shortest one's end;
    the sampler then goes on token by token, keeping the longer prompts'
    own tokens (the same sequence of states as reading each prompt alone).

    Mixed into `ULMFiTLanguageModel`, whose `backbone` is an
    `AWDLSTMBackbone` and whose logits are the tied decoder
    (`backbone.token_embedding(x, reverse=True)`) plus `decoder_bias`.

    Example:

    ```python
    language_model.compile(sampler="greedy")
    language_model.generate(["The film is", "A"], max_length=30)
    ```
    """

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False):
        """Writes text after each prompt, as `keras_hub.models.CausalLM.generate`.

        Args:
            inputs: A prompt string, a list of them, or a `tf.data.Dataset`
                of them; without a preprocessor, a dict of `token_ids` and
                `padding_mask` `(batch, max_length)`.
            max_length: Optional integer, the tokens of prompt and text
                together. Defaults to the preprocessor's `sequence_length`.
            stop_token_ids: `"auto"` (the default) stops a text at `xxbos`,
                which starts the next text in the training stream, or at
                `xxeos`; `None` writes `max_length` tokens; or a tuple of
                ids.
            strip_prompt: Boolean, return only the written text.

        Returns:
            The prompt and the text written after it: a string for a
            string, else a list of strings.
        """
        if not hasattr(self, "generate_function"):
            raise ValueError(
                "This language model was built with `compile=False`: call `compile(sampler=...)` before `generate`."
            )
        if self.preprocessor is None and not isinstance(inputs, dict):
            raise ValueError(
                "This language model has no preprocessor to read text with: set `preprocessor` to its tokenizer, "
                f'or pass a dict of "token_ids" and "padding_mask". Received: inputs={inputs!r}'
            )
        if stop_token_ids == "auto":
            # KerasHub's "auto" reads the tokenizer's `end_token_id`; ulmfit-tf's texts end where the next begins.
            stop_token_ids = (BOS_ID, EOS_ID)
        return super().generate(inputs, max_length=max_length, stop_token_ids=stop_token_ids, strip_prompt=strip_prompt)

    def call_with_cache(self, token_ids, cache, mask=None, compute_head=True):
        """One pass over `token_ids` from the LSTM states in `cache`.

        Reads the LSTM layers without touching a `stateful` model's carried
        state and without dropout.

        Args:
            token_ids: int tensor `(batch, timesteps)`.
            cache: One `(h, c)` pair of `(batch, units)` tensors per LSTM
                layer: the state before `token_ids`.
            mask: Optional boolean `(batch, timesteps)`: a state stays as it
                is over `False` steps.
            compute_head: Boolean, compute the logits.

        Returns:
            `(logits, hidden_states, cache)`: the float32 logits
            `(batch, timesteps, vocabulary_size)` (or `None`), the last
            LSTM layer's outputs and the states after `token_ids`.
        """
        # The time loops run outside the layers' calls, so without Keras' autocasting: in the variables' dtype
        # (float32 under mixed precision).
        x = ops.cast(self.backbone.token_embedding(token_ids), self.backbone.variable_dtype)
        states = []
        for lstm, (h, c) in zip(self.backbone.lstm_layers, cache):
            # The layer's own time loop with an explicit initial state: calling the layer would read and
            # overwrite the state a stateful model carries between training batches.
            _, x, (h, c) = lstm.inner_loop(x, [h, c], mask, training=False)
            states.append((h, c))
        logits = self.decoder_bias(self.backbone.token_embedding(x, reverse=True)) if compute_head else None
        return logits, x, tuple(states)

    def _build_cache(self, token_ids, index):
        """The LSTM states after each row's first `index - 1` tokens, and the last layer's outputs up to `index`."""
        batch_size = ops.shape(token_ids)[0]
        dtype = self.backbone.variable_dtype
        cache = tuple(
            (ops.zeros((batch_size, lstm.units), dtype), ops.zeros((batch_size, lstm.units), dtype))
            for lstm in self.backbone.lstm_layers
        )
        seen = ops.arange(ops.shape(token_ids)[1])[None, :] < index - 1
        seen = ops.broadcast_to(seen, ops.shape(token_ids))
        _, hidden_states, cache = self.call_with_cache(token_ids, cache, mask=seen, compute_head=False)
        # The contrastive sampler compares each new output with all earlier ones, the last prompt token's
        # included: one more step gives it, and the cache stays before that token.
        last_token = ops.expand_dims(ops.take(token_ids, index - 1, axis=1), axis=1)
        _, last_output, _ = self.call_with_cache(last_token, cache, compute_head=False)
        hidden_states = ops.slice_update(hidden_states, [0, index - 1, 0], last_output)
        return hidden_states, cache

    def generate_step(self, inputs, stop_token_ids=None):
        """Generates the padded part of one batch of prompts (see `CausalLM.generate_step`).

        Args:
            inputs: A dict of `token_ids` and `padding_mask`, each
                `(batch, max_length)`, the mask `True` on the prompt.
            stop_token_ids: Optional tuple of ids that end a text.

        Returns:
            A dict of `token_ids` and `padding_mask` (`True` up to and with
            each text's first stop id).
        """
        token_ids, padding_mask = inputs["token_ids"], ops.cast(inputs["padding_mask"], "bool")
        # The sampler starts after the shortest prompt (every row's state holds the tokens before it) and keeps
        # the longer prompts' own tokens; each step feeds the previous token.
        index = ops.maximum(ops.min(ops.sum(ops.cast(padding_mask, "int32"), axis=-1)), 1)
        hidden_states, cache = self._build_cache(token_ids, index)

        def next(prompt, cache, index):
            token = ops.expand_dims(ops.take(prompt, index - 1, axis=1), axis=1)
            logits, hidden, cache = self.call_with_cache(token, cache)
            return logits[:, 0], hidden[:, 0], cache

        token_ids = self.sampler(
            next=next,
            prompt=token_ids,
            cache=cache,
            index=index,
            mask=padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        if stop_token_ids is None:
            return {"token_ids": token_ids, "padding_mask": ops.ones_like(token_ids, dtype="bool")}
        written = ops.logical_not(padding_mask)
        stops = ops.zeros_like(written)
        for stop in stop_token_ids:
            stops = ops.logical_or(stops, ops.equal(token_ids, stop))
        stops = ops.cast(ops.logical_and(stops, written), "int32")
        # Everything after a row's first written stop id is left out.
        after_stop = ops.cumsum(stops, axis=-1) - stops
        return {"token_ids": token_ids, "padding_mask": ops.equal(after_stop, 0)}
