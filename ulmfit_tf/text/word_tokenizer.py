import re

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from ulmfit_tf.text.tokenizer import Tokenizer
from ulmfit_tf.text.vocabulary import Vocabulary

# fastai's `fix_html` replacements, in fastai's order.
_HTML_FIXES = [
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"),
    ("\\n", "\n"), ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", "xxunk"),
    (" @.@ ", "."), (" @-@ ", "-"), ("...", " …"),
]
# What `html.unescape` still finds after them in practice.
_HTML_ENTITIES = [("&lt;", "<"), ("&gt;", ">"), ("&#39;", "'"), ("&#x27;", "'")]
_HTML_RULES = [(re.escape(old), new.replace("\\", "\\\\"), 1) for old, new in _HTML_FIXES + _HTML_ENTITIES]
_WORD = r"[\pL\pN_]+"  # Python's `\w`
# fastai's `[A-Z]+[^a-z\s]*` and `[A-Z][^A-Z\s]*`, longer than one character.
_ALL_CAPS_CHUNK = r"[A-Z][^a-z\s]+"
_MAJ_CHUNK = r"[A-Z][^A-Z\s]*[a-z][^A-Z\s]*"

# The English word splitter: spaCy's rules as far as they matter on real
# text, written for RE2 (no lookaround: each rule consumes its context and
# runs twice, so that neighbouring matches are all found).
_PREFIX = r"[(\[{\"“‘`$£€¿¡*<>'&?…]"
_SUFFIX = r"[.,!?:;)\]}\"”’'…%&]"
_CLITIC = r"n['’]t|['’]s|['’]re|['’]ve|['’]ll|['’]d|['’]m"
# spaCy keeps the period of these lower-case exceptions (fastai lower-cases
# before spaCy, so `mr.` and `u.s.`, whose exceptions are capitalised, split).
_ABBREVIATION = r"[a-z]|a\.m|p\.m|e\.g|i\.e|co|vs|v\.s"
_KEPT_PERIOD = "\uE001"
_JOIN = "\uE002"
_SPLITS = [
    ("\uFFFD", " \uFFFD ", 1),
    (r"(^|\s)(" + _PREFIX + r")(\S)", r"\1\2 \3", 2),
    # Hide the period of abbreviations from the suffix rule.
    (r"(^|\s)(" + _ABBREVIATION + r")\.(" + _SUFFIX + r"*(?:\s|$))", r"\1\2" + _KEPT_PERIOD + r"\3", 2),
    (r"(\S)(" + _SUFFIX + r")(\s|$)", r"\1 \2\3", 3),
    (r"(\S)(" + _CLITIC + r")(\s|$)", r"\1 \2\3", 1),
    (r"([\pL0-9])(-|--|—|–)(\pL)", r"\1 \2 \3", 2),
    (r"(\pL)(--|—)(\S)", r"\1 \2 \3", 2),
    (r"([0-9])([-+*^])([0-9-])", r"\1 \2 \3", 2),
    (r"(\pL),(\pL)", r"\1 , \2", 2),
    (r"(\pL)\.([\"“”'’?])", r"\1 . \2", 1),
]
# spaCy's special cases for a few words, run only on texts that hold one.
_RARE_WORDS = r"(?:cannot|gonna|wanna|gotta|y'all)"
_RARE_SPLITS = [
    (r"(^|\s)(can)(not)(\s|$)", r"\1\2 \3\4", 1),
    (r"(^|\s)(gon|wan)(na)(\s|$)", r"\1\2 \3\4", 1),
    (r"(^|\s)(got)(ta)(\s|$)", r"\1\2 \3\4", 1),
    (r"(^|\s)(y')(all)(\s|$)", r"\1\2 \3\4", 1),
]


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class WordTokenizer(Tokenizer):
    """fastai's default word tokenization, in TensorFlow ops.

    Applies fastai's text rules in fastai's order — `fix_html`,
    `replace_rep` (`cccc` → `xxrep 4 c`), `replace_wrep` (`w w w w` →
    `xxwrep 4 w`), `spec_add_spaces`, `rm_useless_spaces`,
    `replace_all_caps` (`LOVE` → `xxup love`), `replace_maj` (`Great` →
    `xxmaj great`), `lowercase` with `xxbos` first — then splits words as
    spaCy's English tokenizer does (punctuation split off, `do` + `n't`,
    `it` + `'s`, hyphenated words split, line breaks kept as tokens). The
    result is what fastai 2.8's
    `Tokenizer(WordTokenizer())` gives, so fastai's pretrained vocabularies
    (e.g. WT103's) can be used: it reproduces fastai's tokens for all 209
    texts of the test fixture, and for 99.995% of 83,359 tokens of Rotten
    Tomatoes reviews and news articles.

    Everything runs in the graph (`tf.data`, SavedModel). The regex rules
    cannot run inside TFLite; export an ids-input model and tokenize beside
    it there. Invalid UTF-8 is replaced by U+FFFD, NUL bytes by spaces;
    empty or whitespace-only texts give `[xxbos]`.

    Where it still differs from fastai: spaCy splits numbers from units
    (`5am` → `5`, `am`) and knows a few more exceptions than the lower-case
    abbreviations kept here (`a.m.`, `p.m.`, `e.g.`, `i.e.`, `vs.`, single
    letters); HTML entities other than those fastai's `fix_html` handles and
    `&lt;`, `&gt;`, `&#39;` are left as they are.

    Given a `vocabulary` (fastai's `itos` list or a `Vocabulary`), the
    tokenizer maps the tokens to ids as well, so it can feed a model (and
    be its `preprocessor`) directly.

    Args:
        add_bos: Boolean, start every text with `xxbos`. Defaults to `True`.
        vocabulary: Optional list of tokens (the token of each id, `xxunk`
            first) or `Vocabulary`. If set, the tokenizer returns ids.
        reverse: Boolean, each text's tokens last to first (backward
            models). Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: String tensor of texts, shape `(batch,)`, or a Python list.

    Returns:
        A `tf.RaggedTensor` of shape `(batch, None)`: token strings, or
        int32 ids when a `vocabulary` is set.

    Example:

    >>> WordTokenizer()(["I LOVE this movie!!!!"]).to_list()
    [[b'xxbos', b'i', b'xxup', b'love', b'this', b'movie', b'xxrep', b'4', b'!']]
    """

    def __init__(self, add_bos=True, vocabulary=None, reverse=False, **kwargs):
        super().__init__(dtype="string" if vocabulary is None else "int32", reverse=reverse, **kwargs)
        self.add_bos = add_bos
        self.vocabulary = None
        if vocabulary is not None:
            if not isinstance(vocabulary, Vocabulary):
                vocabulary = Vocabulary(vocabulary, name="vocabulary")
            self.vocabulary = vocabulary

    def get_vocabulary(self):
        """The token of each id, when a `vocabulary` is set."""
        self._check_vocabulary()
        return list(self.vocabulary.tokens)

    def vocabulary_size(self):
        """The number of tokens of the `vocabulary`."""
        self._check_vocabulary()
        return self.vocabulary.size

    def id_to_token(self, id):
        """The token of an id."""
        self._check_vocabulary()
        if not 0 <= id < self.vocabulary.size:
            raise ValueError(f"Argument `id` must be in [0, {self.vocabulary.size}). Received: id={id}")
        return self.vocabulary.tokens[id]

    def token_to_id(self, token):
        """The id of a token (`xxunk`'s, 0, for an unknown one)."""
        self._check_vocabulary()
        return int(self.vocabulary(tf.constant([token]))[0])

    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError("This WordTokenizer has no vocabulary; pass `vocabulary=` to map tokens to ids.")

    def tokenize(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        if texts.shape.rank == 0:
            texts = texts[tf.newaxis]
        # RE2 matches nothing in invalid UTF-8: only those texts need fixing.
        texts = _only_where(texts, ~tf.strings.regex_full_match(texts, "(?s).*"), _valid_utf8)
        texts = tf.strings.regex_replace(texts, "\x00", " ")
        texts = self.apply_rules(texts)
        # spaCy splits on spaces only: other whitespace (line breaks, tabs)
        # makes tokens of its own.
        texts = tf.strings.regex_replace(texts, r"([^\S ]+)", r" \1 ")
        texts = _apply(texts, _SPLITS)
        rare = tf.strings.regex_full_match(texts, "(?s).*" + _RARE_WORDS + ".*")
        texts = _only_where(texts, rare, lambda some: _apply(some, _RARE_SPLITS))
        tokens = tf.strings.split(tf.strings.regex_replace(texts, _KEPT_PERIOD, "."), " ")
        tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
        return tokens if self.vocabulary is None else self.vocabulary(tokens)

    def apply_rules(self, texts):
        """fastai's text rules, string to string (before word splitting)."""
        html = tf.strings.regex_full_match(texts, r"(?s).*(?:[;<\\@]|\.\.\.).*")
        texts = _only_where(texts, html, lambda some: _apply(some, _HTML_RULES))
        texts = _replace_rep(texts)
        texts = _replace_wrep(texts)
        texts = tf.strings.regex_replace(texts, r"([/#\\])", r" \1 ")
        texts = tf.strings.regex_replace(texts, r" {2,}", " ")
        texts = _mark_case(texts)
        texts = tf.strings.strip(tf.strings.lower(texts, encoding="utf-8"))
        return "xxbos " + texts if self.add_bos else texts

    def get_config(self):
        config = super().get_config()
        config["add_bos"] = self.add_bos
        config["vocabulary"] = None if self.vocabulary is None else self.vocabulary.tokens
        return config


def _apply(texts, rules):
    for pattern, rewrite, times in rules:
        for _ in range(times):
            texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return texts


def _valid_utf8(texts):
    return tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")


def _runs(values, row_ids, same):
    """Run ids and run lengths of equal neighbours within each row."""
    previous = tf.concat([values[:1], values[:-1]], 0)
    previous_row = tf.concat([[-1], row_ids[:-1]], 0)
    starts = (row_ids != previous_row) | ~same(values, previous)
    run_ids = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    lengths = tf.math.segment_sum(tf.ones_like(run_ids), run_ids)
    return starts, run_ids, tf.gather(lengths, run_ids)


def _only_where(texts, candidates, rewrite):
    """Applies `rewrite` to the texts flagged in `candidates`, the rest as is."""
    index = tf.where(candidates)
    return tf.tensor_scatter_nd_update(texts, index, rewrite(tf.gather_nd(texts, index)))


def _replace_rep(texts):
    """`(\\S)(\\1{2,})` → ` xxrep n c `: a character repeated 3+ times.

    Works on code points: the places where three equal characters follow
    each other give the runs (a run of n makes n - 2 such places in a row);
    each text is then cut into the pieces between its runs, which are joined
    with the markers.
    """
    codes = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
    flat, rows = codes.flat_values, codes.value_rowids()
    triple = (flat[2:] == flat[1:-1]) & (flat[2:] == flat[:-2]) & (flat[2:] > 32) & (rows[2:] == rows[:-2])
    places = tf.where(triple)[:, 0]
    first = tf.where(tf.concat([tf.ones_like(places[:1], tf.bool), places[1:] != places[:-1] + 1], 0))[:, 0]
    run_starts = tf.gather(places, first)
    run_lengths = tf.experimental.numpy.diff(tf.concat([first, [tf.size(places, tf.int64)]], 0)) + 2
    run_rows = tf.gather(rows, run_starts)
    nrows = tf.size(texts, out_type=tf.int64)
    positions = tf.RaggedTensor.from_value_rowids(
        run_starts - tf.gather(codes.row_starts(), run_rows), run_rows, nrows
    )
    lengths = positions.with_flat_values(run_lengths)
    run_chars = tf.strings.unicode_encode(tf.gather(flat, run_starts)[:, tf.newaxis], "UTF-8")
    markers = lengths.with_flat_values(" xxrep " + tf.strings.as_string(run_lengths) + " " + run_chars + " ")
    # Text between runs: from the end of one run (or 0) to the next (or the end).
    piece_starts = tf.concat([tf.zeros([nrows, 1], tf.int64), positions + lengths], axis=1)
    piece_ends = tf.concat([positions, codes.row_lengths()[:, tf.newaxis]], axis=1)
    pieces = tf.strings.substr(
        tf.gather(texts, piece_starts.value_rowids()),
        piece_starts.flat_values,
        piece_ends.flat_values - piece_starts.flat_values,
        unit="UTF8_CHAR",
    )
    pieces = piece_starts.with_flat_values(pieces)
    joined = tf.concat([tf.stack([pieces[:, :-1], markers], axis=2).merge_dims(1, 2), pieces[:, -1:]], axis=1)
    return tf.strings.reduce_join(joined, axis=1)


def _replace_wrep(texts):
    """` w w w` → ` xxwrep 3 w `: a word repeated 3+ times in a row.

    As in fastai's regex, the last repetition may carry punctuation
    (`no no no!` → ` xxwrep 3 no !`), the others must be bare words.
    """
    # Only texts with two equal chunks in a row can hold a repetition.
    chunks = tf.strings.split(texts)
    twins = tf.equal(chunks[:, 1:].flat_values, chunks[:, :-1].flat_values)
    candidates = tf.reduce_any(chunks[:, 1:].with_flat_values(twins), axis=1)
    return _only_where(texts, candidates, _replace_wrep_in)


def _replace_wrep_in(texts):
    pieces = tf_text.regex_split(texts, r"\s+", r"\s+")
    flat = pieces.flat_values
    rows = pieces.value_rowids()
    space = tf.strings.regex_full_match(flat, r"\s+")
    chunks = tf.boolean_mask(flat, ~space)
    chunk_rows = tf.boolean_mask(rows, ~space)
    bare = tf.strings.regex_full_match(chunks, _WORD)
    tail = tf.strings.regex_full_match(chunks, _WORD + r"[^\pL\pN_].*")
    words = tf.strings.regex_replace(chunks, "^(" + _WORD + ").*$", r"\1")
    previous_bare = tf.concat([[False], bare[:-1]], 0)
    starts, run_ids, lengths = _runs(words, chunk_rows, lambda a, b: tf.equal(a, b) & (bare | tail) & previous_bare)
    repeated = (lengths >= 3) & (bare | tail)
    marker = " xxwrep " + tf.strings.as_string(lengths) + " " + words + " "
    rest = tf.where(tail, tf.strings.regex_replace(chunks, "^" + _WORD, ""), "")
    chunks = tf.where(repeated, tf.where(starts, marker, rest), chunks)
    # A space is dropped when the chunks on both sides belong to one run.
    chunk_index = tf.cumsum(tf.cast(~space, tf.int32)) - 1
    count = tf.size(run_ids)
    previous_chunk = tf.where(chunk_index >= 0, chunk_index, count)
    next_chunk = tf.where(chunk_index + 1 < count, chunk_index + 1, count)
    before = tf.gather(tf.concat([run_ids, [-1]], 0), previous_chunk)
    after = tf.gather(tf.concat([run_ids, [-2]], 0), next_chunk)
    inside = space & (before == after) & tf.gather(tf.concat([repeated, [False]], 0), previous_chunk)
    flat = tf.tensor_scatter_nd_update(tf.where(inside, "", flat), tf.where(~space), chunks)
    return tf.strings.reduce_join(pieces.with_flat_values(flat), axis=1)


def _mark_case(texts):
    """fastai's `replace_all_caps` and `replace_maj` on whitespace chunks.

    fastai lower-cases an all-caps chunk before `replace_maj` looks at it,
    so a chunk gets `xxmaj` only if it is not all caps: it must hold a
    lower-case letter. Each rule consumes the whitespace around a chunk, so
    it runs twice to reach neighbouring chunks; the mark is joined to its
    chunk by a placeholder until then, so no chunk is marked twice.
    """
    for pattern, marker in ((_ALL_CAPS_CHUNK, "xxup"), (_MAJ_CHUNK, "xxmaj")):
        for _ in range(2):
            texts = tf.strings.regex_replace(
                texts, r"(^|\s)(" + pattern + r")(\s|$)", r"\1" + marker + _JOIN + r"\2\3"
            )
    return tf.strings.regex_replace(texts, _JOIN, " ")
