#!/usr/bin/env python3
"""Tokenizer parity fixtures: a corpus of >= 5,000 strings and the ids that the
reference implementations give for it.

  hf      Hugging Face `tokenizers` on tokenizer.json: encode(text).ids (with </s>),
          decode(ids) (skip_special_tokens=True) and decode(ids, skip_special_tokens=False)
  spm     Google `sentencepiece` on spiece.model: encode(text), decode(ids)

The corpus is generated here with a fixed seed: product-like titles we write
ourselves, HTML entities, samples of every Unicode general category, combining
marks, CJK / Arabic / Devanagari / Thai / Hangul text, emoji with ZWJ and skin
tones, full-width ASCII, NBSP and other spaces, tabs and newlines, control
characters, very long words, empty and whitespace-only strings, and special
tokens written in text.

Run:  venv/bin/python scripts/make_tokenizer_fixtures.py ../shared/data/t5 Tests/TokenizerTests/Fixtures
      venv/bin/python scripts/make_tokenizer_fixtures.py models/default Tests/TokenizerTests/Fixtures/games-vocab
"""
import json
import os
import random
import shutil
import sys
import unicodedata

import sentencepiece
from tokenizers import Tokenizer

SEED = 2305_07001
rng = random.Random(SEED)

BRANDS = ["Nintendo", "Sony", "Ubisoft", "Atlus", "Capcom", "Sega", "Konami", "Bandai", "Logitech", "Razer",
          "Turtle Beach", "HORI", "PDP", "Mad Catz", "Thrustmaster", "SteelSeries", "Hyperkin", "8BitDo",
          "Square Enix", "Bethesda", "Rockstar", "EA Sports", "Activision", "Namco", "Koei Tecmo", "Level-5"]
NOUNS = ["Controller", "Headset", "Charging Station", "Memory Card", "Racing Wheel", "Arcade Stick", "Keyboard",
         "Mouse", "Carrying Case", "Screen Protector", "Battery Pack", "HDMI Cable", "Adapter", "Stand",
         "Legends", "Chronicles", "Saga", "Quest", "Odyssey", "Warriors", "Tactics", "Kart", "Party", "Frontier",
         "Kingdom", "Dungeon", "Galaxy", "Remastered", "Collection", "Anthology", "Trilogy"]
ADJECTIVES = ["Wireless", "Ultimate", "Deluxe", "Limited", "Classic", "Pro", "Super", "Mega", "Dark", "Final",
              "Eternal", "Shadow", "Crimson", "Golden", "Neon", "Retro", "Turbo", "Hyper", "Grand", "Mystic"]
PLATFORMS = ["PlayStation 4", "PS5", "Xbox One", "Xbox Series X|S", "Nintendo Switch", "3DS", "Wii U", "PC",
             "Mac", "GameCube", "Nintendo DS", "PSP", "PS Vita", "Game Boy Advance"]
EDITIONS = ["Game of the Year Edition", "Collector's Edition", "Day One Edition", "Standard Edition",
            "Digital Code", "(Renewed)", "- Import", "[Online Game Code]", "Vol. 2", "Part II", "2K19", "2019"]
ACCENTED = ["Pokémon", "Légende", "Naïve", "Café", "Señor", "Über", "Ångström", "Fête", "Crème", "Smørrebrød",
            "Façade", "Piñata", "Zoë", "Björk", "Déjà Vu", "Mañana", "Göteborg", "Kraków", "Český", "İstanbul"]
SYMBOLS = ["™", "®", "©", "–", "—", "…", "•", "★", "♥", "→", "½", "¼", "²", "³", "°", "€", "£", "¥", "§", "¶",
           "‘", "’", "“", "”", "«", "»", "‹", "›", "×", "÷", "±", "µ", "ª", "º", "¿", "¡", "‰", "†", "‡"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;", "&nbsp;", "&reg;", "&trade;", "&copy;",
            "&eacute;", "&#8217;", "&#x2019;", "&hellip;", "&mdash;", "&ndash;", "&frac12;", "&amp;amp;", "&#174;",
            "&;", "&", "&amp", "&#;", "&#xZZ;", "&notanentity;"]
SPACES = ["\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007",
          "\u2008", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000", "\u180e", "\u200b", "\u200c", "\u200d",
          "\u2060", "\ufeff", "\u2028", "\u2029", "\u0085"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\v", "\f", " \t ", "\n\n"]
SPECIALS = ["</s>", "<pad>", "<unk>", "<extra_id_0>", "<extra_id_99>", "<extra_id_42>", "<s>", "</s", "<extra_id_",
            "<extra_id_100>", "<<pad>>", "</s></s>", "<PAD>"]
EMOJI = ["😀", "🎮", "🕹️", "👾", "🔥", "💯", "🚀", "❤️", "👍🏽", "👋🏿", "👩🏻‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️",
         "🇺🇸", "🇯🇵", "🇩🇪", "1️⃣", "#️⃣", "©️", "🧑🏾‍🚀", "👁️‍🗨️", "🤷‍♀️", "🙇🏼‍♂️", "🐻‍❄️", "✊🏼", "🫶🏽", "🥷"]
SCRIPTS = {
    "cjk": (0x4E00, 0x9FFF), "hiragana": (0x3041, 0x3096), "katakana": (0x30A1, 0x30FA),
    "hangul": (0xAC00, 0xD7A3), "arabic": (0x0621, 0x064A), "devanagari": (0x0905, 0x0939),
    "thai": (0x0E01, 0x0E2E), "cyrillic": (0x0410, 0x044F), "greek": (0x0391, 0x03C9), "hebrew": (0x05D0, 0x05EA),
}
SCRIPT_PHRASES = ["ゼルダの伝説 ブレス オブ ザ ワイルド", "スーパーマリオ オデッセイ", "최종 판타지", "ポケットモンスター ソード",
                  "لعبة فيديو جديدة", "वीडियो गेम नियंत्रक", "เกมคอนโซล ใหม่", "Игровая приставка", "Ηλεκτρονικό παιχνίδι",
                  "משחק וידאו", "游戏手柄 无线 蓝牙", "任天堂 スイッチ", "क्षत्रिय", "ที่นี่", "مرحبا بالعالم"]
COMBINING = [chr(c) for c in range(0x0300, 0x036F)] + ["\u20dd", "\u20e3", "\u0e31", "\u093f", "\u0651", "\u302a"]


def title():
    parts = [rng.choice(BRANDS)]
    if rng.random() < 0.5:
        parts.append(rng.choice(ADJECTIVES))
    parts.append(rng.choice(NOUNS))
    if rng.random() < 0.5:
        parts.append("for " + rng.choice(PLATFORMS))
    if rng.random() < 0.4:
        parts.append(rng.choice(EDITIONS))
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts)), rng.choice(ACCENTED))
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(SYMBOLS))
    if rng.random() < 0.2:
        parts.append(str(rng.randrange(1, 4000)))
    text = " ".join(parts)
    if rng.random() < 0.1:
        text = text.upper()
    if rng.random() < 0.1:
        text = text.lower()
    if rng.random() < 0.1:
        text += ";"
    return text


def fullwidth(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def category_samples():
    by_category = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # lone surrogates are not valid UTF-8 text
        by_category.setdefault(unicodedata.category(chr(cp)), []).append(cp)
    out = []
    for category in sorted(by_category):
        cps = by_category[category]
        for _ in range(40):
            chars = "".join(chr(rng.choice(cps)) for _ in range(rng.randint(1, 6)))
            style = rng.random()
            if style < 0.3:
                out.append(chars)
            elif style < 0.6:
                out.append(f"{title()} {chars}")
            else:
                out.append(f"x{chars}y {chars} z")
    return out


def corpus():
    items = []
    items += [title() for _ in range(2000)]
    for _ in range(300):
        t = title().split(" ")
        t.insert(rng.randrange(len(t) + 1), rng.choice(ENTITIES))
        items.append(" ".join(t) if rng.random() < 0.7 else "".join(t))
    items += category_samples()
    for _ in range(200):
        word = rng.choice(ACCENTED + ["e", "a", "n", "o", "Zelda", "ก", "क"])
        marks = "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 4)))
        items.append(f"{word}{marks} {title()}" if rng.random() < 0.5 else word + marks)
    for name, (lo, hi) in SCRIPTS.items():
        for _ in range(30):
            words = ["".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(1, 5))]
            items.append(" ".join(words))
    items += SCRIPT_PHRASES
    items += [f"{p} {title()}" for p in SCRIPT_PHRASES]
    for _ in range(200):
        e = "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))
        items.append(rng.choice([e, f"{title()} {e}", f"{e}{title()}{e}"]))
    items += [fullwidth(title()) for _ in range(200)]
    for _ in range(250):
        t = title().split(" ")
        for _ in range(rng.randint(1, 3)):
            t.insert(rng.randrange(len(t) + 1), rng.choice(SPACES) * rng.randint(1, 3))
        items.append(rng.choice([" ", ""]).join(t))
    for _ in range(150):
        t = title().split(" ")
        items.append("".join(w + rng.choice(WHITESPACE) for w in t))
    for _ in range(150):
        t = title()
        pos = rng.randrange(len(t) + 1)
        ctrl = chr(rng.choice(list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))))
        items.append(t[:pos] + ctrl + t[pos:])
    for n in [50, 100, 200, 500, 1000]:
        for _ in range(10):
            items.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyzé0123456789") for _ in range(n)))
    items += ["a" * 300, "ab" * 300, "🎮" * 100, "x" * 1000 + " end"]
    items += ["", " ", "  ", "\t", "\n", " \n\t ", "\u3000", "\u00a0", "\u00a0\u00a0", "\r\n", "   hello   ",
              "hello   world", " leading", "trailing ", "\u2581", "\u2581\u2581", "a\u2581b", "▁▁ ▁", ".", "!!!"]
    for _ in range(150):
        t = title().split(" ")
        t.insert(rng.randrange(len(t) + 1), rng.choice(SPECIALS))
        items.append(rng.choice([" ", ""]).join(t))
    for _ in range(600):
        pools = [title(), rng.choice(EMOJI), rng.choice(SPACES), rng.choice(WHITESPACE), rng.choice(ENTITIES),
                 rng.choice(SCRIPT_PHRASES), fullwidth(rng.choice(BRANDS)), rng.choice(SYMBOLS),
                 rng.choice(ACCENTED) + rng.choice(COMBINING)]
        items.append("".join(rng.choice(pools) for _ in range(rng.randint(2, 6))))
    seen, unique = set(), []
    for s in items:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/t5"
    out = sys.argv[2] if len(sys.argv) > 2 else "Tests/TokenizerTests/Fixtures"
    os.makedirs(out, exist_ok=True)
    for name in ("tokenizer.json", "spiece.model"):
        shutil.copyfile(os.path.join(source, name), os.path.join(out, name))
    hf = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(out, "spiece.model"))
    texts = corpus()
    special_contents = [t.content for t in hf.get_added_tokens_decoder().values()]
    with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for text in texts:
            ids = hf.encode(text).ids
            spm_ids = sp.encode(text)
            f.write(json.dumps({
                "text": text,
                "has_special": any(s in text for s in special_contents),
                "hf": ids,
                "hf_decode": hf.decode(ids),
                "hf_decode_all": hf.decode(ids, skip_special_tokens=False),
                "spm": spm_ids,
                "spm_decode": sp.decode(spm_ids),
            }, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} strings to {out}/corpus.jsonl")


if __name__ == "__main__":
    main()
