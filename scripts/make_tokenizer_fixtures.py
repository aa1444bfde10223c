#!/usr/bin/env python3
"""Make the tokenizer test fixtures with the Hugging Face `tokenizers` library.

The Swift tokenizer must encode exactly like this library, so every expected id
in Tests/GPTTests/Fixtures/tokenizer/ comes from it, never from the Swift code.

Writes:
  gpt2ish.json                base: a small byte-level BPE trained on Shakespeare
                              plus multilingual lines (add_prefix_space false)
  gpt2ish_prefix.json         same with add_prefix_space true
  gpt2ish_legacy.json         merges as "a b" strings with a "#version" line and
                              one pair repeated, the pre-tokenizer wrapped in a
                              Sequence, a ByteLevel post-processor
  gpt2ish_added.json          extra added tokens (special and not, lstrip, rstrip,
                              normalized and not)
  gpt2ish_added_prefix.json   the same added tokens with add_prefix_space true
  gpt2ish_ignore_merges.json  ignore_merges true plus vocab words merges never build
  cases.json                  per tokenizer file: [{text, ids, decoded?}], decoded
                              (the library's decode) only where it is not text
  scalar_classes.json         how the library's split regex classes every scalar:
                              [first, last, "L"|"N"|"S"|"O"] ranges

Re-runnable and deterministic: `python3 scripts/make_tokenizer_fixtures.py`.
Needs ../shared/data/shakespeare/train/*.txt (beside the repository) for training and the sample.
"""

import copy
import glob
import json
import os
import random

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "GPTTests", "Fixtures", "tokenizer")
# The corpus the project keeps beside the repository (see scripts/fetch_shakespeare.py).
SHAKESPEARE = os.path.join(os.path.dirname(ROOT), "shared", "data", "shakespeare", "train")

MULTILINGUAL = [
    "Über die Brücke gehen Mädchen und Jungen. Ça va très bien, merci! Él está aquí.",
    "Привет, как дела? Москва — столица России.",
    "東京は日本の首都です。中文字符测试。",
    "안녕하세요 세계",
    "مرحبا بالعالم",
    "שלום עולם",
    "😀😃😄 👨‍👩‍👧 🇫🇷🇯🇵 ❤️",
    "Ελληνικά γράμματα",
]


def training_text():
    files = sorted(glob.glob(os.path.join(SHAKESPEARE, "*.txt")))[:3]
    parts = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            parts.append(f.read()[:100_000])
    # Repeated so that the trainer learns merges across non-ASCII bytes.
    return ["".join(parts)] + MULTILINGUAL * 40


def train_base():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    return json.loads(tok.to_str())


def with_prefix_space(doc):
    doc = copy.deepcopy(doc)
    doc["pre_tokenizer"]["add_prefix_space"] = True
    return doc


def legacy(doc):
    doc = copy.deepcopy(doc)
    merges = [f"{a} {b}" for a, b in doc["model"]["merges"]]
    # A pair listed twice keeps its last rank in the library; repeating the
    # second merge ("h e") at the end changes how every "he" is merged.
    doc["model"]["merges"] = ["#version: 0.2"] + merges + [merges[1]]
    doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [doc["pre_tokenizer"]]}
    doc["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return doc


def with_added_tokens(doc):
    # Let the library assign the ids, so the file is what it would save itself.
    tok = Tokenizer.from_str(json.dumps(doc))
    tok.add_special_tokens([
        AddedToken("<|user|>", special=True, normalized=False),
        AddedToken("<|end|>", special=True, normalized=False),  # shares a prefix with <|endoftext|>
        AddedToken("<|assistant|>", special=True, normalized=False, rstrip=True),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True),
        AddedToken("[SEP]", special=True, normalized=False, lstrip=True, rstrip=True),
        AddedToken("<|img|>", special=True, normalized=False),
    ])
    tok.add_tokens([
        # Non-special tokens are matched in a second pass (normalized: true), so
        # "<|img|>" wins over "[[<|img" even though "[[<|img" starts further left.
        AddedToken("[[<|img", special=False, normalized=True),
        AddedToken("hello world", special=False, normalized=True),
        AddedToken("🤗", special=False, normalized=True),
        AddedToken("  ", special=False, normalized=True),
        AddedToken("<unused>", special=False, normalized=False),
    ])
    return json.loads(tok.to_str())


IGNORE_MERGES_WORDS = ["Ġzyzzyva", "ĠQuixotically", "ðŁ¦Ħ", "Ġ12345"]


def with_ignore_merges(doc):
    doc = copy.deepcopy(doc)
    doc["model"]["ignore_merges"] = True
    vocab = doc["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    for word in IGNORE_MERGES_WORDS:
        vocab[word] = next_id
        next_id += 1
    return doc


COMMON_TEXTS = [
    "", " ", "  ", "\n", "\t", "hello", "Hello, world!", "hello world",
    "   leading spaces", "trailing spaces   ", "multiple    spaces   inside  words",
    "tabs\tand\t\ttabs \t mixed", "line1\nline2\n\nline4\n", "windows\r\nline\r\nendings\r\n",
    "mixed \t\n whitespace \n\t ", " \n", "a \nb", "x\n\n\ny", "end with newline\n\n",
    "To be, or not to be, that is the question:",
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:",
    "HAMLET. O, that this too too solid flesh would melt,\n    Thaw, and resolve itself into a dew!",
    "3.14159", "1,000,000", "2024-01-15 12:34:56", "phone: +1 (555) 123-4567", "abc123def456",
    "0123456789012345678901234567890", "!!! ??? ... --- ***", "...", "«quotes» “curly” ‘single’",
    "don't", "I'm", "we'll", "they've", "SHE'S", "You'RE", "it's", "'s", "''", "'", "'sam",
    "rock 'n' roll", "o'clock", "I'd've", "can't won't shouldn't", " 've 'll 're",
    # Contractions are lowercase only: these split differently if "'T" etc. matched.
    "'Tis", "'STAND", "'RE", "'Ready", "'Very", "'Lady", "'Mongst", "'Dreams", "'tis 'sblood",
    "😀", "👨‍👩‍👧", "🇫🇷🇯🇵", "👍🏽", "❤️", "I ❤️ NY", "emoji😀inside😃words",
    "東京は日本の首都です。", "中文字符测试", "안녕하세요 세계",
    "e\u0301", "cafe\u0301 nai\u0308ve", "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d",
    "مرحبا بالعالم", "שלום עולם", "abc שלום 123 مرحبا",
    "Привет, как дела?", "Ελληνικά γράμματα", "Über Ça Él",
    "hello<|endoftext|>world", "<|endoftext|><|endoftext|>", "<|endoftext|>",
    " <|endoftext|> ", "a <|endoftext|>\n", "<|endoftext", "<|endoftext|", "<<|endoftext|>>",
    "supercalifragilisticexpialidocious", "a" * 300, "ab" * 150,
    "东京" * 200,
    "a\u00a0b\u2003c\u3000d\u2028e\u0085f", "\u3000\u3000x", " \u3000y",
    "\u0000nul\u0001\u001f\u007f", "a\u200bb", "\ufeffhello", "\ue000private", "\uffff\U0010fffd",
    # U+10D4A (Garay, Unicode 16) is a letter to the library; U+10940 and U+11DE0
    # (Unicode 17) are still unassigned to it.
    "a\U00010d4ab", "a\U00010940b", "1\U00011de02",
    "٣٤٥ ௧௨ Ⅻ ½ ² ¹²³", "ʰʲ ǅ", "x²+y²", "the year MMXXIV",
    "Ġ is a byte-level char", "ĉĊ",
]

ADDED_TEXTS = [
    "<|user|>hello<|assistant|>  hi there", "<|user|> hello <|end|>", "<|endoftext|><|end|>",
    "<|end|>oftext|>", "fill the <mask> in", "fill the    <mask>   in", "a [SEP] b", "a   [SEP]   b",
    "[SEP][SEP]", "  [SEP]", "[[<|img|>", "[[<|img", "x[[<|imgy", "say hello world!",
    "sayhello worldnow", "🤗🤗 hugs", "a    b", "a     b", "<unused><unused>", "<|assistant|>\n\n",
    "\t<mask>", "<|assistant|><mask>", "<|assistant|>   <mask>", "hello<|endoftext|>world",
]

IGNORE_MERGES_TEXTS = ["zyzzyva", " zyzzyva", "a zyzzyva", " Quixotically", "🦄", "🦄🦄", " 12345", "12345"]

RANDOM_POOL = [
    "the", "The", " a", "and", "Hello", "WORLD", "x", "don't", "'s", "'re", "SHE'S",
    " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2009",
    "0", "42", "3.14", "1,000", "!", "?!", "...", "--", "(", ")", "\"", "'", ",", "#", "@",
    "😀", "👨‍👩‍👧", "🇫🇷", "👍🏽", "❤️", "\u200d", "\ufe0f", "東京", "中文", "한국어",
    "e\u0301", "\u0301", "\u0308", "مرحبا", "שלום", "Привет", "Ελλάδα", "ß", "İ", "ǅ",
    "٣", "½", "Ⅻ", "\U00010d4a", "\U00010940", "<|endoftext|>", "<|endoftext", "|>",
]


def random_texts(seed, count, pool):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        n = rng.randint(1, 25)
        texts.append("".join(rng.choice(pool) for _ in range(n)))
    return texts


def shakespeare_sample():
    # A play the base tokenizer was not trained on, so merges are exercised
    # the way unseen text exercises them.
    path = sorted(glob.glob(os.path.join(SHAKESPEARE, "*.txt")))[-1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text[20_000:36_000]


def scalar_classes():
    # Probe each scalar with strings whose split shows the regex class:
    # "a"+c stays one piece only for \p{L}, "1"+c for \p{N}, "!"+c for
    # [^\s\p{L}\p{N}], and "\t"+c for \s.
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)

    def pieces(s):
        return len(byte_level.pre_tokenize_str(s))

    classes = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            classes.append(None)
            continue
        c = chr(cp)
        if pieces("a" + c) == 1:
            classes.append("L")
        elif pieces("1" + c) == 1:
            classes.append("N")
        elif pieces("!" + c) == 1:
            classes.append("O")
        elif pieces("\t" + c) == 1:
            classes.append("S")
        else:
            raise SystemExit(f"cannot class U+{cp:04X}")
    ranges = []
    start = 0
    for cp in range(1, 0x110001):
        if cp == 0x110000 or classes[cp] != classes[start]:
            if classes[start] is not None:
                ranges.append([start, cp - 1, classes[start]])
            start = cp
    return ranges


def write_json(name, value):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    assert tokenizers.__version__ == "0.23.3", f"fixtures were made with tokenizers 0.23.3, not {tokenizers.__version__}"
    os.makedirs(OUT, exist_ok=True)
    base = train_base()
    added = with_added_tokens(base)
    docs = {
        "gpt2ish.json": base,
        "gpt2ish_prefix.json": with_prefix_space(base),
        "gpt2ish_legacy.json": legacy(base),
        "gpt2ish_added.json": added,
        "gpt2ish_added_prefix.json": with_prefix_space(added),
        "gpt2ish_ignore_merges.json": with_ignore_merges(base),
    }
    sample = shakespeare_sample()
    texts = {
        "gpt2ish.json": COMMON_TEXTS + random_texts(1, 150, RANDOM_POOL) + [sample],
        "gpt2ish_prefix.json": COMMON_TEXTS + random_texts(2, 100, RANDOM_POOL),
        "gpt2ish_legacy.json": COMMON_TEXTS + random_texts(3, 50, RANDOM_POOL),
        "gpt2ish_added.json": COMMON_TEXTS + ADDED_TEXTS
        + random_texts(4, 150, RANDOM_POOL + ["<|user|>", "<mask>", "[SEP]", "<|assistant|>", "[[<|img|>", "hello world", "🤗", "<unused>"]),
        "gpt2ish_added_prefix.json": COMMON_TEXTS + ADDED_TEXTS
        + random_texts(5, 150, RANDOM_POOL + ["<|user|>", "<mask>", "[SEP]", "<|assistant|>", "[[<|img|>", "hello world", "🤗", "<unused>"]),
        "gpt2ish_ignore_merges.json": COMMON_TEXTS + IGNORE_MERGES_TEXTS,
    }

    # The ignore_merges words must really need ignore_merges, or the variant tests nothing.
    plain = Tokenizer.from_str(json.dumps(base))
    for text in [" zyzzyva", " Quixotically", "🦄", " 12345"]:
        assert len(plain.encode(text).ids) > 1, text

    cases = {}
    for name, doc in docs.items():
        write_json(name, doc)
        tok = Tokenizer.from_file(os.path.join(OUT, name))
        entries = []
        for text in texts[name]:
            ids = tok.encode(text).ids
            entry = {"text": text, "ids": ids}
            decoded = tok.decode(ids, skip_special_tokens=False)
            if decoded != text:  # only stored where it differs, to keep the file small
                entry["decoded"] = decoded
            entries.append(entry)
        cases[name] = entries
    write_json("cases.json", cases)
    write_json("scalar_classes.json", scalar_classes())
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
