#!/usr/bin/env python3
"""Convert the public Amazon Review Data (2018) files of one category into the dataset files the
project reads (`instructrec eval`, `instructrec instructions`, scripts/baselines/sasrec.py, and through
`instructrec instructions --dataset-output` the training recipe scripts/train/train.py).

Inputs (https://nijianmo.github.io/amazon/index.html; gzip-compressed or plain, detected by content):
  --reviews  the 5-core review file, JSON lines (Video_Games_5.json.gz): reviewerID, asin, unixReviewTime, ...;
             or the ratings-only CSV (Video_Games.csv: asin,reviewerID,rating,unixtime, no header, not 5-core:
             pass --k-core 5)
  --meta     the metadata file, JSON lines (meta_Video_Games.json.gz): asin, title, ...

Outputs in --output (default ../shared/data/games, the path every tool defaults to, from the repository root):
  <prefix>.item               "item_id:token<TAB>title:token_seq", then item_id<TAB>title, ids 0..N-1 in order.
                              Titles are written as the metadata has them (raw HTML entities such as &amp; and
                              &reg; included; the Swift loader decodes them, trims spaces and drops a trailing ';'),
                              only tabs and line breaks replaced by spaces.
  <prefix>-6k.test.inter      "user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token", then
                              user_id<TAB>history<TAB>target per user, user ids 0..U-1 in order: the history is the
                              space-separated item ids oldest first, the target the user's last item.
  <prefix>-6k.valid.inter     the same with the second-to-last item as target (history one shorter).
  <prefix>.user2index, <prefix>.item2index   reviewerID / asin <TAB> id, to map back to the raw files.
(The "-6k" names are the ones the loaders look for first; they also accept <prefix>.test.inter.)

Processing, in the order of the public pipeline the reference files came from:
  1. reviews: one interaction per (user, item), the earliest kept (duplicate lines and re-reviews dropped);
  2. items without a usable title dropped (no title, or one that is empty once decoded as the service decodes it),
     with their interactions; the metadata's last record for an asin with a title wins;
  3. --k-core K (off by default: the 5-core review file is taken as given): repeatedly drop users and items
     with fewer than K interactions;
  4. each user's items sorted by time (ties: order in the review file); users with fewer than --min-items
     items dropped (a leave-one-out split needs a test target, a validation target and some history);
  5. each user keeps the most recent --max-length items (50, as the reference files: history at most 49);
  6. ids: users in reviewerID order; items numbered in order of first appearance, user by user, oldest first.
The reference files' ids came from a set iteration order and cannot be reproduced; the data is the same
up to that numbering and the order of same-day reviews.

Files are written atomically (each to a temporary file, all renamed at the end); existing files are replaced
only with --force. Stdlib only.

  python3 scripts/data/convert_amazon2018.py --reviews RAW/Video_Games_5.json.gz \\
      --meta RAW/meta_Video_Games.json.gz --k-core 5 --output ../shared/data/games
"""
import argparse
import collections
import csv
import gzip
import io
import json
import os
import re
import sys
import tempfile
import unicodedata

HEADERS = {
    "item": "item_id:token\ttitle:token_seq",
    "inter": "user_id:token\titem_id_list:token_seq\titem_id:token",
}

# The HTML character references the Swift loader (Sources/InstructRec/HTMLEntities.swift) decodes, to tell
# which titles it would load as "": named ones from its table, numeric ones in general. Unknown names stay.
_NAMED = {
    "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u00a0", "reg": "\u00ae",
    "trade": "\u2122", "copy": "\u00a9", "eacute": "\u00e9", "egrave": "\u00e8", "ecirc": "\u00ea",
    "aacute": "\u00e1", "agrave": "\u00e0", "acirc": "\u00e2", "iacute": "\u00ed", "oacute": "\u00f3",
    "ouml": "\u00f6", "uuml": "\u00fc", "auml": "\u00e4", "szlig": "\u00df", "ntilde": "\u00f1",
    "ccedil": "\u00e7", "hellip": "\u2026", "mdash": "\u2014", "ndash": "\u2013", "lsquo": "\u2018",
    "rsquo": "\u2019", "ldquo": "\u201c", "rdquo": "\u201d", "frac12": "\u00bd", "frac14": "\u00bc",
    "deg": "\u00b0", "times": "\u00d7", "middot": "\u00b7", "bull": "\u2022", "euro": "\u20ac",
    "pound": "\u00a3", "yen": "\u00a5", "sup2": "\u00b2", "sup3": "\u00b3", "iexcl": "\u00a1",
    "iquest": "\u00bf",
}
_REFERENCE = re.compile(r"&([^;&]{0,11});")


def _reference(match):
    name = match.group(1)
    value = None
    if re.fullmatch(r"#[xX]\+?[0-9A-Fa-f]+", name):
        value = int(name[2:].lstrip("+"), 16)
    elif re.fullmatch(r"#\+?[0-9]+", name):
        value = int(name[1:].lstrip("+"))
    if value is not None:  # a Unicode scalar, as Swift's Unicode.Scalar(UInt32) accepts
        return chr(value) if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else match.group(0)
    return _NAMED.get(name, match.group(0))


def _trim(text):
    """Foundation's trimmingCharacters(in: .whitespaces): tab and the Unicode space separators (Zs)."""
    def space(c):
        return c == "\t" or unicodedata.category(c) == "Zs"
    start, end = 0, len(text)
    while start < end and space(text[start]):
        start += 1
    while end > start and space(text[end - 1]):
        end -= 1
    return text[start:end]


def served_title(raw):
    """The title as the service loads it (InteractionDataset): entities decoded, spaces trimmed, one trailing ';'
    removed. Only used to decide whether an item has a title; the file keeps the raw text."""
    title = _trim(_REFERENCE.sub(_reference, raw))
    return title[:-1] if title.endswith(";") else title


def clean_title(raw):
    """The raw title with the characters that would break the tab-separated line format replaced by spaces."""
    return raw.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def open_text(path):
    """A text stream over a plain or gzip-compressed file (detected by its first two bytes)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def is_csv(path):
    name = path.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def read_reviews(path, stats):
    """[(user, item, time, order)] from the review JSON lines (or the ratings-only CSV)."""
    out = []
    with open_text(path) as f:
        if is_csv(path):
            for row in csv.reader(f):
                if not row:
                    continue
                stats["review lines"] += 1
                try:
                    item, user, _rating, time = row[0], row[1], float(row[2]), int(float(row[3]))
                except (IndexError, ValueError):
                    stats["review lines skipped (malformed)"] += 1
                    continue
                out.append((user, item, time, len(out)))
            return out
        for line in f:
            if not line.strip():
                continue
            stats["review lines"] += 1
            try:
                record = json.loads(line)
                user, item, time = record["reviewerID"], record["asin"], int(record["unixReviewTime"])
            except (ValueError, KeyError, TypeError):
                stats["review lines skipped (malformed)"] += 1
                continue
            if not isinstance(user, str) or not isinstance(item, str) or not user or not item:
                stats["review lines skipped (malformed)"] += 1
                continue
            out.append((user, item, time, len(out)))
    return out


def read_titles(path, stats):
    """{asin: raw title} for the items with a usable title (the last such record of an asin wins)."""
    titles = {}
    with open_text(path) as f:
        for line in f:
            if not line.strip():
                continue
            stats["metadata lines"] += 1
            try:
                record = json.loads(line)
                item = record["asin"]
            except (ValueError, KeyError, TypeError):
                stats["metadata lines skipped (malformed)"] += 1
                continue
            title = record.get("title")
            if not isinstance(title, str):
                continue
            title = clean_title(title)
            if served_title(title):
                titles[item] = title
    return titles


def deduplicate(reviews, stats):
    """One interaction per (user, item): the earliest (ties: the first in the file)."""
    best = {}
    for review in reviews:
        key = (review[0], review[1])
        kept = best.get(key)
        if kept is None or (review[2], review[3]) < (kept[2], kept[3]):
            best[key] = review
    stats["duplicate interactions dropped"] += len(reviews) - len(best)
    return sorted(best.values(), key=lambda r: r[3])


def k_core(inters, k, stats):
    """Repeatedly drop users and items with fewer than k interactions."""
    rounds = 0
    while True:
        users = collections.Counter(r[0] for r in inters)
        items = collections.Counter(r[1] for r in inters)
        kept = [r for r in inters if users[r[0]] >= k and items[r[1]] >= k]
        if len(kept) == len(inters):
            break
        rounds += 1
        inters = kept
    stats[f"{k}-core rounds"] = rounds
    return inters


def convert(reviews_path, meta_path, k=0, max_length=50, min_items=3, stats=None):
    """(titles by item id, [(reviewerID, [item ids oldest first])] by user id, [asin by item id])."""
    stats = stats if stats is not None else collections.Counter()
    reviews = read_reviews(reviews_path, stats)
    titles = read_titles(meta_path, stats)
    inters = deduplicate(reviews, stats)
    reviewed = {r[1] for r in inters}
    untitled = reviewed - titles.keys()
    stats["items without a title dropped"] = len(untitled)
    kept = [r for r in inters if r[1] in titles]
    stats["interactions of those dropped"] = len(inters) - len(kept)
    inters = kept
    if k:
        before_users, before_items = len({r[0] for r in inters}), len({r[1] for r in inters})
        inters = k_core(inters, k, stats)
        stats[f"users dropped by --k-core {k}"] = before_users - len({r[0] for r in inters})
        stats[f"items dropped by --k-core {k}"] = before_items - len({r[1] for r in inters})
    by_user = collections.defaultdict(list)
    for r in inters:
        by_user[r[0]].append(r)
    sequences = []
    for user in sorted(by_user):
        items = [r[1] for r in sorted(by_user[user], key=lambda r: (r[2], r[3]))]
        if len(items) < min_items:
            stats[f"users dropped (fewer than {min_items} items)"] += 1
            continue
        if max_length and len(items) > max_length:
            stats[f"users cut to their last {max_length} items"] += 1
            items = items[-max_length:]
        sequences.append((user, items))
    item_ids, asins = {}, []
    for _, items in sequences:
        for item in items:
            if item not in item_ids:
                item_ids[item] = len(asins)
                asins.append(item)
    stats["items only in cut or dropped sequences"] = len({r[1] for r in inters}) - len(asins)
    return [titles[a] for a in asins], [(u, [item_ids[i] for i in items]) for u, items in sequences], asins


def render_files(prefix, titles, sequences, asins):
    """{file name: text} of every output file."""
    item_lines = [HEADERS["item"]] + [f"{i}\t{t}" for i, t in enumerate(titles)]
    test_lines, valid_lines = [HEADERS["inter"]], [HEADERS["inter"]]
    for uid, (_, items) in enumerate(sequences):
        test_lines.append(f"{uid}\t{' '.join(map(str, items[:-1]))}\t{items[-1]}")
        valid_lines.append(f"{uid}\t{' '.join(map(str, items[:-2]))}\t{items[-2]}")
    return {
        f"{prefix}.item": "\n".join(item_lines) + "\n",
        f"{prefix}-6k.test.inter": "\n".join(test_lines) + "\n",
        f"{prefix}-6k.valid.inter": "\n".join(valid_lines) + "\n",
        f"{prefix}.user2index": "".join(f"{u}\t{i}\n" for i, (u, _) in enumerate(sequences)),
        f"{prefix}.item2index": "".join(f"{a}\t{i}\n" for i, a in enumerate(asins)),
    }


def write_atomically(directory, files, force=False):
    """Each file to a temporary file in `directory`, then all renamed into place (nothing half-written)."""
    os.makedirs(directory, exist_ok=True)
    existing = [name for name in files if os.path.exists(os.path.join(directory, name))]
    if existing and not force:
        raise FileExistsError(f"{directory} already holds {', '.join(existing)}; pass --force to replace them")
    temporary = {}
    try:
        for name, text in files.items():
            fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            temporary[name] = path
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(path, 0o644)
        for name, path in temporary.items():
            os.replace(path, os.path.join(directory, name))
    finally:
        for path in temporary.values():
            if os.path.exists(path):
                os.unlink(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reviews", required=True, help="Video_Games_5.json(.gz), or the ratings-only Video_Games.csv(.gz)")
    p.add_argument("--meta", required=True, help="meta_Video_Games.json(.gz)")
    p.add_argument("--output", default="../shared/data/games", help="output directory (default: %(default)s)")
    p.add_argument("--prefix", default="Games", help="file name prefix (default: %(default)s)")
    p.add_argument("--k-core", type=int, default=0, metavar="K",
                   help="re-apply K-core filtering after dropping untitled items (default: off; 5 reproduces the "
                        "reference files' users and items)")
    p.add_argument("--max-length", type=int, default=50,
                   help="keep each user's most recent N items (default: %(default)s, as the reference files; 0: all)")
    p.add_argument("--min-items", type=int, default=3,
                   help="drop users with fewer items (default: %(default)s: test target, valid target, one history item)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    args = p.parse_args(argv)
    if args.min_items < 3:
        p.error("--min-items must be at least 3 (test target, validation target and one history item)")
    if args.max_length and args.max_length < args.min_items:
        p.error("--max-length must be 0 or at least --min-items")
    for path in (args.reviews, args.meta):
        if not os.path.isfile(path):
            p.error(f"no such file: {path} (see scripts/data/README.md for where to get it)")
    stats = collections.Counter()
    titles, sequences, asins = convert(args.reviews, args.meta, args.k_core, args.max_length, args.min_items, stats)
    if not sequences:
        sys.exit("convert_amazon2018: no user left; nothing written")
    files = render_files(args.prefix, titles, sequences, asins)
    try:
        write_atomically(args.output, files, args.force)
    except FileExistsError as e:
        sys.exit(f"convert_amazon2018: {e}")
    for key, value in stats.items():  # in pipeline order
        print(f"{key}: {value:,}")
    lengths = [len(items) for _, items in sequences]
    print(f"users: {len(sequences):,}")
    print(f"items: {len(titles):,}")
    print(f"interactions: {sum(lengths):,}")
    print(f"test history length: {min(lengths) - 1}..{max(lengths) - 1}, mean {sum(lengths) / len(lengths) - 1:.1f}")
    print(f"wrote {', '.join(files)} to {args.output}")


if __name__ == "__main__":
    main()
