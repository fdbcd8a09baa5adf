"""Reading the Kubernetes manifests in docker/k8s without a third-party package.

`load_documents(path)` returns the YAML documents of a file. It uses PyYAML
(`yaml.safe_load_all`) when it is importable and otherwise a small parser, in this
file, for the subset of YAML that Kubernetes manifests use:

- block mappings and block sequences (a sequence may sit at its key's indentation),
  `- key: value` items, `---` between documents, `#` comments;
- flow collections on one line: `{ a: 1, b: [x, "y"] }`;
- plain, 'single' and "double" quoted scalars, typed as PyYAML types them
  (null, true/false, yes/no, on/off, decimal integers, floats with a dot).

Anything outside that subset (block scalars `|` `>`, anchors and aliases, tags,
multi-line plain or flow scalars, octal/hex/sexagesimal numbers, ...) raises
`YAMLSubsetError` naming the file and line, so a manifest is never misread in
silence: install PyYAML or rewrite that construct. `scripts/ops/test_ops.py`
checks that both readers give the same documents for every manifest.
"""

import os
import re

__all__ = ["YAMLSubsetError", "load_documents", "parse", "reader_name"]


class YAMLSubsetError(ValueError):
    pass


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def manifest_files(paths):
    """Every .yaml/.yml file of the given directories (sorted), and the given files."""
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith((".yaml", ".yml")):
                    yield os.path.join(path, name)
        else:
            yield path


def documents_or_report(path):
    """The file's documents, or None after printing "ERROR <file>: <why>" (unreadable, or YAML we do not read)."""
    try:
        return load_documents(path)
    except Exception as error:  # OSError, YAMLSubsetError, PyYAML's YAMLError
        print("ERROR %s: %s" % (relative(path), error))
        return None


def relative(path):
    """A path as messages show it: relative to the repository when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def reader_name():
    try:
        import yaml  # noqa: F401
        return "PyYAML %s" % yaml.__version__
    except ImportError:
        return "built-in YAML subset reader (PyYAML not installed)"


def load_documents(path, force_builtin=False):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if not force_builtin:
        try:
            import yaml
        except ImportError:
            yaml = None
        if yaml is not None:
            return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    return [doc for doc in parse(text, path) if doc is not None]


# ---- the subset parser --------------------------------------------------------

_NULLS = {"", "~", "null", "Null", "NULL"}
# PyYAML's booleans (YAML 1.1 without y/n).
_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}
_FALSE = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}
# Strings to PyYAML, booleans to YAML 1.1 readers such as Kubernetes' own: refused.
_AMBIGUOUS = {"y", "Y", "n", "N"}
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
# PyYAML (YAML 1.1) floats need a dot; an exponent needs a sign.
_FLOAT = re.compile(r"^[-+]?([0-9][0-9]*)?\.[0-9]*([eE][-+][0-9]+)?$")
_SPECIAL_NUMBER = re.compile(r"^[-+]?(0[0-9_]+|0[xXbBoO][0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|[0-9]+_[0-9_]*)$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")
_DOUBLE_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
                   "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
                   "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


class _Line:
    __slots__ = ("number", "indent", "text")

    def __init__(self, number, indent, text):
        self.number, self.indent, self.text = number, indent, text


class _Parser:
    def __init__(self, source):
        self.source = source

    def fail(self, number, message):
        raise YAMLSubsetError("%s:%d: %s" % (self.source, number, message))

    # -- lines --

    def strip_comment(self, number, text):
        """The line without its comment; quotes that open a scalar are honoured."""
        out = []
        quote = None
        i = 0
        while i < len(text):
            ch = text[i]
            if quote == '"':
                out.append(ch)
                if ch == "\\" and i + 1 < len(text):
                    out.append(text[i + 1])
                    i += 1
                elif ch == '"':
                    quote = None
            elif quote == "'":
                out.append(ch)
                if ch == "'":
                    if i + 1 < len(text) and text[i + 1] == "'":
                        out.append("'")
                        i += 1
                    else:
                        quote = None
            else:
                previous = text[i - 1] if i > 0 else " "
                if ch == "#" and previous in " \t":
                    break
                if ch in "\"'" and previous in " \t[{,:":
                    quote = ch
                out.append(ch)
            i += 1
        if quote is not None:
            self.fail(number, "quoted scalar not closed on its line (multi-line scalars are outside the subset)")
        return "".join(out).rstrip()

    def documents(self, text):
        documents, current = [], []
        for number, raw in enumerate(text.splitlines(), start=1):
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                self.fail(number, "tab in indentation")
            stripped = raw.strip()
            if stripped.startswith("%"):
                self.fail(number, "directives are outside the subset")
            body = self.strip_comment(number, raw)
            if not body.strip():
                continue
            if body.rstrip() in ("---", "..."):
                documents.append(current)
                current = []
                continue
            if body.startswith("--- "):
                self.fail(number, "content on a '---' line is outside the subset")
            indent = len(body) - len(body.lstrip(" "))
            current.append(_Line(number, indent, body.strip()))
        documents.append(current)
        return [self.document(lines) for lines in documents if lines]

    def document(self, lines):
        self.lines = lines
        value, index = self.node(0, lines[0].indent)
        if index != len(lines):
            line = lines[index]
            self.fail(line.number, "unexpected indentation or content")
        return value

    # -- block structure --

    def node(self, index, indent):
        line = self.lines[index]
        if line.indent != indent:
            self.fail(line.number, "unexpected indentation")
        if line.text == "-" or line.text.startswith("- "):
            return self.sequence(index, indent)
        if self.split_key(line) is not None:
            return self.mapping(index, indent)
        value = self.inline_value(line, line.text)
        return value, self.after_scalar(index, indent)

    def after_scalar(self, index, indent):
        nxt = index + 1
        if nxt < len(self.lines) and self.lines[nxt].indent > indent:
            self.fail(self.lines[nxt].number, "continuation of a multi-line scalar is outside the subset")
        return nxt

    def sequence(self, index, indent):
        items = []
        while index < len(self.lines):
            line = self.lines[index]
            if line.indent != indent or not (line.text == "-" or line.text.startswith("- ")):
                if line.indent > indent:
                    self.fail(line.number, "unexpected indentation in a sequence")
                break
            rest = line.text[1:].lstrip(" ")
            if not rest:
                nxt = index + 1
                if nxt < len(self.lines) and self.lines[nxt].indent > indent:
                    value, index = self.node(nxt, self.lines[nxt].indent)
                else:
                    value, index = None, nxt
            else:
                # "- key: value": the item starts at the column after "- ".
                column = indent + (len(line.text) - len(rest))
                self.lines[index] = _Line(line.number, column, rest)
                value, index = self.node(index, column)
            items.append(value)
        return items, index

    def split_key(self, line):
        """(key, rest) when the line is `key: value` or `key:`, else None."""
        text = line.text
        if text[0] in "[{":
            return None
        if text[0] in "\"'":
            end = self.quoted_end(line.number, text, 0)
            after = text[end:]
            if after == ":" or after.startswith(": "):
                return self.quoted(line.number, text[:end]), after[1:].strip()
            return None
        match = re.search(r":( |$)", text)
        if not match:
            return None
        key = text[: match.start()].rstrip()
        if key.startswith(("? ", "&", "*", "!", "|", ">", "@", "`")):
            self.fail(line.number, "complex or tagged keys are outside the subset")
        return self.plain(line.number, key, as_key=True), text[match.end():].strip()

    def mapping(self, index, indent):
        result = {}
        while index < len(self.lines):
            line = self.lines[index]
            if line.indent != indent:
                if line.indent > indent:
                    self.fail(line.number, "unexpected indentation in a mapping")
                break
            split = self.split_key(line)
            if split is None:
                if line.text == "-" or line.text.startswith("- "):
                    self.fail(line.number, "a sequence item where a mapping key was expected")
                self.fail(line.number, "expected `key: value`")
            key, rest = split
            if isinstance(key, (dict, list)):
                self.fail(line.number, "non-scalar keys are outside the subset")
            if key in result:
                self.fail(line.number, "duplicate key %r" % (key,))
            nxt = index + 1
            if rest:
                result[key] = self.inline_value(line, rest)
                index = self.after_scalar(index, indent)
            elif nxt < len(self.lines) and self.lines[nxt].indent > indent:
                result[key], index = self.node(nxt, self.lines[nxt].indent)
            elif nxt < len(self.lines) and self.lines[nxt].indent == indent and (
                    self.lines[nxt].text == "-" or self.lines[nxt].text.startswith("- ")):
                result[key], index = self.sequence(nxt, indent)
            else:
                result[key], index = None, nxt
        return result, index

    # -- scalars and flow collections on one line --

    def inline_value(self, line, text):
        if text[0] in "|>":
            self.fail(line.number, "block scalars (| and >) are outside the subset")
        if text[0] in "&*!":
            self.fail(line.number, "anchors, aliases and tags are outside the subset")
        if text[0] in "[{":
            value, end = self.flow(line.number, text, 0)
            if text[end:].strip():
                self.fail(line.number, "content after a flow collection")
            return value
        if text[0] in "\"'":
            end = self.quoted_end(line.number, text, 0)
            if text[end:].strip():
                self.fail(line.number, "content after a quoted scalar")
            return self.quoted(line.number, text)
        return self.plain(line.number, text)

    def quoted_end(self, number, text, start):
        quote = text[start]
        i = start + 1
        while i < len(text):
            if quote == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == quote:
                if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        self.fail(number, "quoted scalar not closed on its line")

    def quoted(self, number, token):
        body = token[1:-1]
        if token[0] == "'":
            return body.replace("''", "'")
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            code = body[i + 1] if i + 1 < len(body) else ""
            if code in _DOUBLE_ESCAPES:
                out.append(_DOUBLE_ESCAPES[code])
                i += 2
            elif code in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[code]
                digits = body[i + 2:i + 2 + width]
                if not re.fullmatch(r"[0-9a-fA-F]{%d}" % width, digits):
                    self.fail(number, "bad escape \\%s" % code)
                out.append(chr(int(digits, 16)))
                i += 2 + width
            else:
                self.fail(number, "unknown escape \\%s" % code)
        return "".join(out)

    def plain(self, number, text, as_key=False):
        if text in _NULLS:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _AMBIGUOUS:
            self.fail(number, "%r is a string to PyYAML and a boolean to YAML 1.1; quote it" % text)
        if _SPECIAL_NUMBER.match(text):
            self.fail(number, "%r reads as a YAML 1.1 special number; quote it" % text)
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text) and text not in (".", "-.", "+."):
            return float(text)
        if not as_key and (text.startswith(("%", "@", "`")) or text.startswith(("- ", "? "))):
            self.fail(number, "plain scalar starting with an indicator: %r" % text)
        return text

    def flow(self, number, text, i):
        """A flow collection starting at text[i]; returns (value, index after it)."""
        opener = text[i]
        closer = "]" if opener == "[" else "}"
        items = [] if opener == "[" else {}
        i += 1
        while True:
            i = self.skip_spaces(text, i)
            if i >= len(text):
                self.fail(number, "flow collection not closed on its line")
            if text[i] == closer:
                return items, i + 1
            if opener == "[":
                value, i = self.flow_value(number, text, i)
                items.append(value)
            else:
                key, i = self.flow_value(number, text, i, key=True)
                i = self.skip_spaces(text, i)
                if i < len(text) and text[i] == ":":
                    i = self.skip_spaces(text, i + 1)
                    if i < len(text) and text[i] in ",}":
                        value = None
                    else:
                        value, i = self.flow_value(number, text, i)
                else:
                    value = None
                if isinstance(key, (dict, list)):
                    self.fail(number, "non-scalar keys are outside the subset")
                if key in items:
                    self.fail(number, "duplicate key %r" % (key,))
                items[key] = value
            i = self.skip_spaces(text, i)
            if i < len(text) and text[i] == ",":
                i += 1
            elif i < len(text) and text[i] == closer:
                continue
            else:
                self.fail(number, "expected ',' or %r in a flow collection" % closer)

    @staticmethod
    def skip_spaces(text, i):
        while i < len(text) and text[i] == " ":
            i += 1
        return i

    def flow_value(self, number, text, i, key=False):
        ch = text[i]
        if ch in "[{":
            return self.flow(number, text, i)
        if ch in "\"'":
            end = self.quoted_end(number, text, i)
            return self.quoted(number, text[i:end]), end
        if ch in "&*!|>":
            self.fail(number, "anchors, aliases, tags and block scalars are outside the subset")
        start = i
        while i < len(text):
            c = text[i]
            if c in ",[]{}":
                break
            if c == ":" and (i + 1 == len(text) or text[i + 1] in " ,]}") and key:
                break
            if c == ":" and (i + 1 == len(text) or text[i + 1] == " ") and not key:
                self.fail(number, "':' inside a flow value; quote it")
            i += 1
        return self.plain(number, text[start:i].strip(), as_key=key), i


def parse(text, source="<string>"):
    return _Parser(source).documents(text)
