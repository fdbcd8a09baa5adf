#!/usr/bin/env python3
"""Title noise for training: a title rewritten the way another store might list the same product, so the
model learns to score titles it never saw in the catalog form (train.py --title-noise P).

A *variant* of Sources/InstructRec/StoreTitleRewriter.swift, NOT a copy. That Swift rewriter makes the
out-of-catalog evaluation (`instructrec eval --rewrite-titles`); training on its exact rules would teach the
model the eval's rewrites and leak into that figure. So this module keeps the same families of change
(platform moved or abbreviated, edition words, punctuation) but, wherever practical, produces surface forms the
Swift rewriter never produces. Exactly how the two differ:

  Platform suffix moved ("Title - Platform" / "Title (Platform)", optional "Standard Edition"/"Digital Code" tail)
    Swift:  "Full Title", "Title (Short)", "Title [Full]", "Title for Short".
    Python: "Short Title", "Title (Full)", "Title | Short"   -- disjoint from Swift's four forms
            (e.g. "Super Mario Odyssey - Nintendo Switch" -> "Switch Super Mario Odyssey",
             "Super Mario Odyssey (Nintendo Switch)", "Super Mario Odyssey | Switch").
  Platform names (full <-> short)
    Shared: PlayStation 2/3/4 <-> PS2/3/4, PlayStation Vita <-> PS Vita, Sony PSP <-> PSP, Xbox One <-> XB1,
            Nintendo Switch/3DS/Wii U/Wii/NES/Super NES/64 <-> Switch/3DS/Wii U/Wii/NES/SNES/N64,
            Game Boy Advance/Color <-> GBA/GBC, Sega Genesis/Dreamcast/Saturn/Game Gear <-> the bare name.
    Swift only (never seen in training): PlayStation <-> PS1, Xbox 360 <-> X360, Xbox <-> Original Xbox,
            Nintendo DS <-> NDS, Gamecube <-> Nintendo GameCube, PC <-> Windows PC, Mac <-> macOS
            (those platforms are left alone here).
  Platform renamed in place anywhere in the title: Swift only (not here).
  Edition words
    Shared: " Standard Edition" dropped.
    Swift only: "Game of the Year" <-> "GOTY"; "Standard Edition" added before the platform
            ("Title Standard Edition - Platform").
    Python only: "Game of the Year Edition" -> "Game of the Year" (the word "Edition" dropped after any other
            edition name too: "Deluxe Edition" -> "Deluxe"); " (Standard Edition)" appended at the end.
  Punctuation
    Shared: "&" <-> "and".
    Swift only: ":" -> " -"; " - " inside the title -> ": "; "[Download]" -> "(Download)".
    Python only: ":" dropped ("Halo: Reach" -> "Halo Reach").
  Letter case (UPPER / lower / Capitalized): Swift only (not here).
  Fallback when nothing applied changed the title
    Swift: append " Standard Edition".  Python: append " (Standard Edition)".

So the out-of-catalog eval still measures generalisation to rewrites the model was not trained on (Swift-only
forms, names and rules above), though not a fully disjoint one: the shared platform-name pairs, "&"/"and" and
dropping "Standard Edition" are seen in training. Say so beside any out-of-catalog figure of a model trained
with --title-noise > 0.

Contract (checked by --self-test): a rewrite always differs from its input (after collapsing runs of spaces),
is deterministic given (title, seed) (Python's string seeding of random.Random is SHA-512 based, independent of
PYTHONHASHSEED), and keeps the title's own words (platform names and edition/filler words aside).

  python3 scripts/train/title_noise.py --self-test
  python3 scripts/train/title_noise.py "Super Mario Odyssey - Nintendo Switch" "Halo: Reach - Xbox 360"
"""
import random
import re
import sys

# full <-> short, the subset/variant of StoreTitleRewriter.platforms described above
_PAIRS = [
    ("PlayStation 4", "PS4"), ("PlayStation 3", "PS3"), ("PlayStation 2", "PS2"), ("PlayStation Vita", "PS Vita"),
    ("Sony PSP", "PSP"), ("Xbox One", "XB1"), ("Nintendo Switch", "Switch"), ("Nintendo 3DS", "3DS"),
    ("Nintendo Wii U", "Wii U"), ("Nintendo Wii", "Wii"), ("Nintendo NES", "NES"), ("Nintendo Super NES", "SNES"),
    ("Nintendo 64", "N64"), ("Game Boy Advance", "GBA"), ("Game Boy Color", "GBC"), ("Sega Genesis", "Genesis"),
    ("Sega Dreamcast", "Dreamcast"), ("Sega Saturn", "Saturn"), ("Sega Game Gear", "Game Gear"),
]
# every written form -> (full, short); longest first so "PlayStation 4" wins over shorter names
PLATFORMS = sorted([(full, (full, short)) for full, short in _PAIRS] + [(short, (full, short)) for full, short in _PAIRS],
                   key=lambda e: -len(e[0]))
TAILS = ["", "Standard Edition", "Digital Code"]


def squeeze(text):
    return " ".join(text.split())


def platform_suffix(title):
    """(core, full, short, tail) when the title ends in " - Platform" or " (Platform)" (optionally followed by
    "Standard Edition" / "Digital Code"), as StoreTitleRewriter.platformSuffix finds it; else None."""
    for tail in TAILS:
        if tail and not title.endswith(" " + tail):
            continue
        body = title[:-(len(tail) + 1)] if tail else title
        for name, (full, short) in PLATFORMS:
            for open_, close in ((" - ", ""), (" (", ")")):
                suffix = open_ + name + close
                if len(body) > len(suffix) and body.lower().endswith(suffix.lower()):
                    core = body[:-len(suffix)].strip()
                    if core:
                        return core, full, short, tail
    return None


def _word(word):
    return re.compile(r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])", re.IGNORECASE)


def move_platform(title, variant):
    found = platform_suffix(title)
    if not found:
        return None
    core, full, short, tail = found
    rest = core + " " + tail if tail else core
    return [short + " " + rest, rest + " (" + full + ")", rest + " | " + short][variant % 3]


def change_edition(title, variant):
    m = _word("Standard Edition").search(title)
    if m:
        text = squeeze(title[:m.start()] + title[m.end():]).replace(" - - ", " - ")
        for sep in (" -", ",", ":", "-"):
            if text.endswith(sep):
                text = text[:-len(sep)]
        return squeeze(text.replace("()", "").replace("[]", ""))
    m = re.search(r"\b(Game of the Year|Deluxe|Gold|Complete|Collector's|Limited|Special|Definitive|Ultimate)"
                  r" Edition\b", title, re.IGNORECASE)
    if m:
        return title[:m.start()] + m.group(1) + title[m.end():]
    if variant % 3 == 0 and not _word("Edition").search(title):
        return title + " (Standard Edition)"
    return None


def change_punctuation(title, variant):
    options = []
    if ":" in title:
        options.append(title.replace(":", ""))
    if "&" in title:
        options.append(title.replace(" & ", " and ").replace("&", " and "))
    m = _word("and").search(title)
    if m:
        options.append(title[:m.start()] + "&" + title[m.end():])
    return options[variant % len(options)] if options else None


RULES = [(0.8, move_platform), (0.5, change_edition), (0.5, change_punctuation)]


def rewrite(title, seed=0):
    """The title as another store might write it (this module's variant rules); never equal to the input
    (up to runs of spaces) unless the title is empty. Deterministic given (title, seed)."""
    original = squeeze(title)
    if not original:
        return title
    rng = random.Random(f"title-noise:{seed}:{original}")
    rolls = [rng.random() for _ in RULES]  # every draw up front, as the Swift rewriter does
    variants = [rng.randrange(1024) for _ in RULES]
    text = original
    for (probability, rule), roll, variant in zip(RULES, rolls, variants):
        if roll < probability:
            changed = rule(text, variant)
            if changed is not None:
                text = squeeze(changed)
    if text != original:
        return text
    for (_, rule), variant in zip(RULES, variants):
        changed = rule(original, variant)
        if changed is not None and squeeze(changed) != original:
            return squeeze(changed)
    return original + " (Standard Edition)"


_FILLER = {"standard", "edition", "digital", "code", "and", "game", "of", "the", "year", "deluxe", "gold", "complete",
           "collector's", "collector", "s", "limited", "special", "definitive", "ultimate"}


def core_words(title):
    """The title's own words: lower-case, platform names and edition/filler words removed."""
    text = title.lower()
    for name, _ in PLATFORMS:
        text = _word(name.lower()).sub(" ", text)
    return {w for w in re.split(r"[^\w]+", text) if w and w not in _FILLER}


SAMPLES = [
    "Super Mario Odyssey - Nintendo Switch", "Uncharted 4: A Thief's End - PlayStation 4", "Halo 5: Guardians - Xbox One",
    "The Elder Scrolls V: Skyrim Game of the Year Edition - PC", "Ratchet & Clank - PlayStation 4",
    "Call of Duty: Black Ops III - Standard Edition - PlayStation 4", "Mario Kart 8 Deluxe - Nintendo Switch Standard Edition",
    "Pokemon Sun (Nintendo 3DS)", "Minecraft", "Halo: Reach - Xbox 360", "Turtle Beach Ear Force Recon 50 Gaming Headset",
    "Dungeons and Dragons", "Fallout 4 - PS4", "The Legend of Zelda: Breath of the Wild - Wii U", "Sonic & Knuckles",
    "Final Fantasy VII Remake Deluxe Edition - PlayStation 4", "Logitech G502 Proteus Spectrum RGB Tunable Gaming Mouse",
    "Grand Theft Auto V (PS4)", "Tetris", "Dark Souls III - Xbox One Digital Code", "Zelda: A Link Between Worlds - 3DS",
]


def self_test():
    import itertools
    rng = random.Random(11)
    pool = list(SAMPLES)
    # recombinations, so more shapes are covered than the samples alone
    for a, b in itertools.product(["Alpha Quest", "Beta: Rising", "Gamma & Delta", "Epsilon and Zeta"],
                                  ["", " - PlayStation 3", " (Xbox One)", " - Nintendo Wii U Standard Edition",
                                   " Game of the Year Edition", " - Sega Genesis", " - PC"]):
        pool.append(a + b)
    checked = 0
    forms = set()
    for title in pool:
        for seed in range(40):
            out = rewrite(title, seed)
            assert squeeze(out) != squeeze(title), (title, seed, out)
            assert out == rewrite(title, seed), (title, seed)
            lost = core_words(title) - core_words(out)
            assert not lost, (title, seed, out, lost)
            forms.add(out)
            checked += 1
    # seeds matter: some titles have several rewrites
    assert len({rewrite(SAMPLES[0], s) for s in range(40)}) >= 3
    assert rewrite("", 3) == ""
    # a few fixed expectations (variant forms, never the Swift ones)
    assert move_platform("Super Mario Odyssey - Nintendo Switch", 0) == "Switch Super Mario Odyssey"
    assert move_platform("Super Mario Odyssey - Nintendo Switch", 1) == "Super Mario Odyssey (Nintendo Switch)"
    assert move_platform("Fallout 4 - PS4", 2) == "Fallout 4 | PS4"
    assert move_platform("Dark Souls III - Xbox One Digital Code", 1) == "Dark Souls III Digital Code (Xbox One)"
    assert move_platform("Halo: Reach - Xbox 360", 0) is None  # Swift-only platform
    assert change_edition("Skyrim Game of the Year Edition - PC", 0) == "Skyrim Game of the Year - PC"
    assert change_edition("Black Ops III - Standard Edition - PlayStation 4", 1) == "Black Ops III - PlayStation 4"
    assert change_punctuation("Halo: Reach", 0) == "Halo Reach"
    assert change_punctuation("Ratchet & Clank", 0) == "Ratchet and Clank"
    assert change_punctuation("Dungeons and Dragons", 0) == "Dungeons & Dragons"
    # Swift-only forms never appear
    swift_only = re.compile(r"\[(?:" + "|".join(re.escape(f) for f, _ in _PAIRS) + r")\]| for (?:"
                            + "|".join(re.escape(s) for _, s in _PAIRS) + r")$|GOTY|X360|NDS|PS1|Original Xbox|macOS|Windows PC")
    leaked = [f for f in forms if swift_only.search(f)]
    assert not leaked, leaked[:5]
    print(f"title_noise self-test: {checked} rewrites of {len(pool)} titles x 40 seeds: always changed, deterministic, "
          f"core words kept, no Swift-only forms ({len(forms)} distinct outputs)")
    for title in SAMPLES[:8]:
        print(f"  {title!r} -> {rewrite(title, rng.randrange(1000))!r}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    elif sys.argv[1:] and not sys.argv[1].startswith("-"):
        for t in sys.argv[1:]:
            print(f"{t!r} -> {[rewrite(t, s) for s in range(4)]}")
    else:
        sys.exit(__doc__)
