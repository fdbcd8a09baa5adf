#!/usr/bin/env python3
"""Renders fixed cases with train.py's renderer (scripts/train/templates.py, torch-free) from a model's
templates.json and prints them as JSON lines, so a Swift test can render the same cases with
`TemplateSet.render` and compare byte for byte (training must render exactly what the service renders).

Each line: {"template", "history", "preference", "intention", "candidates", "item", "rendered"}; absent values
are null (render as "", as Template.render does for a missing placeholder value).

  python3 scripts/train/render_parity.py [--templates models/default/templates.json] [--output FILE]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from templates import Templates, query_from  # noqa: E402

HISTORY = ["Super Mario Odyssey - Nintendo Switch", "The Legend of Zelda: Breath of the Wild - Nintendo Switch",
           "Ratchet & Clank - PlayStation 4"]
CANDIDATES = ["Mario Kart 8 Deluxe - Nintendo Switch", "Halo 5: Guardians - Xbox One",
              "Pokémon Sun (Nintendo 3DS)", "He said \"hi\" {not a placeholder}"]

# (template, history, preference, intention, candidates, item)
CASES = [
    ("generate.history", HISTORY, None, None, None, None),
    ("generate.history", HISTORY[:1], None, None, None, None),
    ("generate.search.specific", None, None, query_from(CANDIDATES[0]), None, None),
    ("generate.search.history.specific", HISTORY, None, "zelda", None, None),
    ("generate.search.history.vague", HISTORY, None, "something relaxing to play with friends", None, None),
    ("generate.history_preference", HISTORY, "open worlds, no horror", None, None, None),
    ("recommend.history", HISTORY, None, None, CANDIDATES, None),
    ("search.specific", None, None, "mario kart", CANDIDATES, None),
    ("search.history.specific", HISTORY, None, "halo", CANDIDATES[:2], None),
    ("pointwise.history", HISTORY, None, None, None, CANDIDATES[1]),
    ("generate.history", [], None, None, None, None),  # empty history renders as ""
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", default="models/default/templates.json")
    p.add_argument("--output", help="write here instead of stdout")
    args = p.parse_args()
    templates = Templates(args.templates)
    lines = []
    for name, history, preference, intention, candidates, item in CASES:
        if name not in templates.templates:
            sys.exit(f"render_parity: {name!r} is not in {args.templates}")
        rendered = templates.render(name, history=history or (), preference=preference, intention=intention,
                                    candidates=candidates or (), item=item)
        lines.append(json.dumps({"template": name, "history": history, "preference": preference,
                                 "intention": intention, "candidates": candidates, "item": item,
                                 "rendered": rendered}, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
