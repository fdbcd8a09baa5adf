"""Instruction rendering for training, torch-free, exactly as Sources/InstructRec/TemplateSet.swift and
Template.swift render (`TemplateSet.render`): placeholders {history} {preference} {intention} {candidates}
{item}, `{{`/`}}` literal braces, every title written with the set's item_format and joined with its separators,
absent values rendered as "".

Imported by train.py and render_parity.py (which prints fixed cases for a Swift parity test).
Not mirrored here: the service shortens history titles longer than max_history_title_tokens (InstructionBuilder);
train.py does not.
"""
import json
import re


class Templates:
    PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z]+)\}")
    # Template.swift's other spellings, used by pointwise rerankers' templates.
    ALIASES = {"query": "intention", "document": "item"}

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        self.item_format = raw.get("item_format", "\"{title}\"")
        self.history_separator = raw.get("history_separator", ", ")
        self.candidate_separator = raw.get("candidate_separator", ", ")
        self.templates = {name: self.segments(text) for name, text in raw["templates"].items()}

    def segments(self, text):
        out, last = [], 0
        for m in self.PLACEHOLDER.finditer(text):
            out.append(("lit", text[last:m.start()]))
            token = m.group(0)
            out.append(("lit", "{") if token == "{{" else ("lit", "}") if token == "}}"
                       else ("ph", self.ALIASES.get(m.group(1), m.group(1))))
            last = m.end()
        out.append(("lit", text[last:]))
        return out

    def placeholders(self, name):
        return {v for kind, v in self.templates[name] if kind == "ph"}

    def format(self, title):
        return self.item_format.replace("{title}", title)

    def render(self, name, history=(), preference=None, intention=None, candidates=(), item=None):
        values = {"history": self.history_separator.join(map(self.format, history)), "preference": preference or "",
                  "intention": intention or "", "candidates": self.candidate_separator.join(map(self.format, candidates)),
                  "item": self.format(item) if item is not None else ""}
        return "".join(v if kind == "lit" else values[v] for kind, v in self.templates[name])


STOP = {"for", "the", "a", "an", "of", "and", "edition", "nintendo", "playstation", "xbox", "ps4", "ps3", "ps2", "ps5",
        "pc", "wii", "switch", "one", "360", "3ds", "ds", "vita", "psp", "game", "video"}


def query_from(title):
    """A specific intention (I2) from a title, as InstructionDataGenerator.query(from:) makes it."""
    main = title.split(" - ")[0]
    words = [w for w in re.split(r"[^\w']|_", main.lower()) if w and w not in STOP]
    return " ".join(words[:4]) if words else main.lower()
