#!/usr/bin/env python3
"""Renders fixed cases with train.py's renderer (scripts/train/templates.py, torch-free) and writes them as a
JSON fixture, Tests/InstructRecTests/Fixtures/train-render-parity.json, which the Swift test
TrainRenderParityTests renders again with `TemplateSet.render` and compares byte for byte (training must render
exactly what the service renders).

The fixture:
  {"generated_by", "templates_file" (relative to the repository root),
   "sets": [{"name", "overrides" (keys of templates.json replaced for this set: item_format and separators),
             "item_format", "history_separator", "candidate_separator" (the values rendered with),
             "cases": [{"name", "template", "history", "preference", "intention", "candidates", "item",
                        "rendered"}]}],
   "queries": [{"title", "query"}]}
The "default" set has no overrides, one case per template of the file (each with the context its placeholders
use) and the edge cases below; the other sets repeat a few templates with the item formats and separators other
stages use (scripts/train/lean_stage.sh). Absent values are null and render as "" on both sides. "queries" are
templates.query_from (the intention train.py makes from a target title) beside which the Swift test checks
InstructionDataGenerator.query(from:).

Not covered, because they are not rendering: the service's instruction fitting (InstructionBuilder drops old
history and shortens history titles past max_history_title_tokens to fit max_input_tokens; train.py cuts the
token ids instead) and the candidates' order (the service lays a list out in canonical title order; train.py
shuffles it). Both renderers are given the same list here.

  venv/bin/python scripts/train/render_parity.py            # or python3: stdlib only
  python3 scripts/train/render_parity.py --output -         # print instead of writing the fixture
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from templates import Templates, query_from  # noqa: E402
from title_noise import rewrite  # noqa: E402

DEFAULT_TEMPLATES = "models/default/templates.json"
DEFAULT_OUTPUT = "Tests/InstructRecTests/Fixtures/train-render-parity.json"

HISTORY = ["Super Mario Odyssey - Nintendo Switch", "The Legend of Zelda: Breath of the Wild - Nintendo Switch",
           "Ratchet & Clank - PlayStation 4"]
CANDIDATES = ["Mario Kart 8 Deluxe - Nintendo Switch", "Halo 5: Guardians - Xbox One", "Pokémon Sun (Nintendo 3DS)",
              "Call of Duty®: Black Ops III™ - PC", "Assassin's Creed, Unity - Limited Edition"]
ITEM = "Halo 5: Guardians - Xbox One"
PREFERENCE = "open worlds, co-op, no horror"
VAGUE = "something relaxing to play with friends"
SPECIFIC = query_from(CANDIDATES[0])

# Titles that could trip a renderer: quotes, commas, the separators themselves, braces and placeholder-like text
# (never substituted inside a value), unicode (precomposed, decomposed, astral, CJK, no-break space), backslashes.
TRICKY = [
    'He said "hi", then left',
    "Madden NFL 17 -  Standard Edition, Xbox One",
    "{history} {candidates} {{not a placeholder}}",
    "The {title} of {item}",
    "Pok\u00e9mon X / Pok\u00e9mon Y (Nintendo\u00a03DS)",
    "Poke\u0301mon Go Plus\u2122 \u2013 \u30dd\u30b1\u30e2\u30f3",
    "Gamer \U0001F3AE Pack \u201cDeluxe\u201d \u2018Edition\u2019",
    "C:\\Games\\setup.exe; 50% off",
    "Trailing space ",
]


def context_for(templates, name, history=HISTORY, candidates=CANDIDATES, item=ITEM):
    """The inputs a template's placeholders use (None/[] for the others), as train.py passes them."""
    uses = templates.placeholders(name)
    intention = None
    if "intention" in uses:
        intention = VAGUE if name.endswith(".vague") else SPECIFIC
    return {"history": list(history) if "history" in uses else None,
            "preference": PREFERENCE if "preference" in uses else None,
            "intention": intention,
            "candidates": list(candidates) if "candidates" in uses else None,
            "item": item if "item" in uses else None}


def default_cases(templates):
    cases = [(f"template {name}", name, context_for(templates, name)) for name in sorted(templates.templates)]
    noisy = [rewrite(t, seed) for seed, t in enumerate(HISTORY + CANDIDATES[:2], start=11)]
    cases += [
        ("one history item", "generate.history", {"history": HISTORY[:1]}),
        ("ten history items (max_history_items)", "generate.history",
         {"history": (HISTORY + CANDIDATES + TRICKY[:2])[:10]}),
        ("empty history renders empty", "generate.history", {"history": []}),
        ("absent preference renders empty", "generate.history_preference", {"history": HISTORY, "preference": None}),
        ("one candidate", "recommend.history", {"history": HISTORY, "candidates": CANDIDATES[:1]}),
        ("tricky titles in history and candidates", "recommend.history", {"history": TRICKY, "candidates": TRICKY[::-1]}),
        ("tricky titles, candidate-free", "generate.search.history.specific",
         {"history": TRICKY, "intention": query_from(TRICKY[4])}),
        ("query made by train.py from a decomposed-accent title", "generate.search.specific", {"intention": query_from(TRICKY[5])}),
        ("query made from the target, as train.py does", "search.history.specific",
         {"history": HISTORY, "intention": query_from(CANDIDATES[3]), "candidates": CANDIDATES}),
        ("preference with quotes and unicode", "generate.history_preference",
         {"history": HISTORY[:2], "preference": 'likes "cozy" games, Pok\u00e9mon, {history}'}),
        ("item with quotes", "pointwise.history", {"history": HISTORY, "item": TRICKY[0]}),
        ("title-noise rewrites (train.py --title-noise)", "recommend.history",
         {"history": noisy[:3], "candidates": noisy[3:] + CANDIDATES[2:]}),
    ]
    return cases


def small_cases(templates):
    out = []
    for name in ("recommend.history", "generate.history", "generate.search.history.specific", "pointwise.history"):
        if name in templates.templates:
            out.append((f"template {name}", name, context_for(templates, name)))
            out.append((f"template {name}, tricky titles", name,
                        context_for(templates, name, history=TRICKY, candidates=TRICKY[::-1], item=TRICKY[2])))
    return out


# (name, overrides of templates.json, cases)
SETS = [
    ("default", {}, default_cases),
    ("lean (scripts/train/lean_stage.sh)", {"item_format": "{title}", "history_separator": "; ",
                                            "candidate_separator": "; "}, small_cases),
    ("two {title}s, newline and bar separators", {"item_format": "- {title} ({title})", "history_separator": "\n",
                                                  "candidate_separator": " | "}, small_cases),
]

QUERY_TITLES = HISTORY + CANDIDATES + [
    "The Nintendo Switch",  # only stop words: the lower-cased main part
    "Assassin's Creed IV: Black Flag - Xbox 360",
    "Call_of_Duty 4: Modern Warfare - PlayStation 3",
    "Grand Theft Auto V - PlayStation 4 - Premium Edition",
    "Pok\u00e9mon Ultra Sun \u2013 Nintendo 3DS",
    "FIFA 18 \u2019Ultimate\u2019 (PS4)",
    "Halo: Reach",
    "",
]


def build(templates_path):
    relative = os.path.relpath(os.path.abspath(templates_path), ROOT)
    sets = []
    for set_name, overrides, make_cases in SETS:
        templates = Templates(templates_path)
        for key, value in overrides.items():
            setattr(templates, key, value)
        cases = []
        for case_name, template, context in make_cases(templates):
            if template not in templates.templates:
                sys.exit(f"render_parity: {template!r} is not in {templates_path}")
            values = {"history": None, "preference": None, "intention": None, "candidates": None, "item": None}
            values.update(context)
            rendered = templates.render(template, history=values["history"] or (), preference=values["preference"],
                                        intention=values["intention"], candidates=values["candidates"] or (),
                                        item=values["item"])
            cases.append({"name": case_name, "template": template, **values, "rendered": rendered})
        sets.append({"name": set_name, "overrides": overrides, "item_format": templates.item_format,
                     "history_separator": templates.history_separator,
                     "candidate_separator": templates.candidate_separator, "cases": cases})
    return {"generated_by": "scripts/train/render_parity.py (scripts/train/templates.py, train.py's renderer)",
            "templates_file": relative, "sets": sets,
            "queries": [{"title": t, "query": query_from(t)} for t in QUERY_TITLES]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", default=os.path.join(ROOT, DEFAULT_TEMPLATES),
                   help=f"templates.json (default: {DEFAULT_TEMPLATES})")
    p.add_argument("--output", default=os.path.join(ROOT, DEFAULT_OUTPUT),
                   help=f"fixture to write, '-' for stdout (default: {DEFAULT_OUTPUT})")
    args = p.parse_args()
    text = json.dumps(build(args.templates), ensure_ascii=False, indent=1) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    temporary = args.output + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(temporary, args.output)
    fixture = json.loads(text)
    print(f"wrote {sum(len(s['cases']) for s in fixture['sets'])} cases in {len(fixture['sets'])} sets and "
          f"{len(fixture['queries'])} queries to {os.path.relpath(args.output)}")


if __name__ == "__main__":
    main()
