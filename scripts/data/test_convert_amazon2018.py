#!/usr/bin/env python3
"""Tests of scripts/data/convert_amazon2018.py on a tiny synthetic sample in the Amazon 2018 formats
(review JSON lines, metadata JSON lines, ratings-only CSV), plain and gzip. Stdlib only:

  python3 scripts/data/test_convert_amazon2018.py
"""
import contextlib
import csv
import gzip
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_amazon2018 as convert  # noqa: E402

# Metadata: A twice (the record with a title wins), C without a title, F with a title that decodes to
# nothing (&nbsp;), H never reviewed; HTML entities, a trailing ';' and a tab in titles.
META = [
    {"asin": "A", "title": ""},
    {"asin": "A", "title": "Super Mario Odyssey - Nintendo Switch", "brand": "Nintendo"},
    {"asin": "B", "title": "Ratchet &amp; Clank&reg; - PlayStation 4"},
    {"asin": "C", "brand": "no title at all"},
    {"asin": "D", "title": "Halo 5: Guardians;"},
    {"asin": "E", "title": "Zelda\tBreath of the Wild"},
    {"asin": "F", "title": "&nbsp;"},
    {"asin": "G", "title": "Pok&eacute;mon Sun"},
    {"asin": "H", "title": "Never Reviewed"},
]


def review(user, item, time):
    return {"overall": 5.0, "verified": True, "reviewTime": "01 01, 2015", "reviewerID": user, "asin": item,
            "reviewerName": "x", "reviewText": "fun", "summary": "ok", "unixReviewTime": time}


# u1: an exact duplicate line (B@50) and a later re-review of A (the earliest, 60, is kept), C untitled;
# u2: E and D on the same day, E first in the file; u3: 2 titled items left (dropped: fewer than 3);
# one malformed line (no reviewerID) and a blank line.
REVIEWS = [
    review("u2", "A", 100), review("u1", "B", 50), review("u1", "A", 60), review("u1", "C", 70),
    review("u3", "A", 10), review("u3", "C", 20), review("u3", "F", 30), review("u3", "B", 40),
    review("u1", "B", 50), review("u2", "B", 200), review("u2", "E", 300), review("u2", "D", 300),
    review("u1", "G", 80), {"asin": "A", "unixReviewTime": 1}, review("u1", "D", 90), review("u1", "A", 500),
    review("u2", "G", 400), review("u4", "G", 5), review("u4", "D", 6), review("u4", "A", 7),
]

ITEM_HEADER = "item_id:token\ttitle:token_seq\n"
INTER_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"

EXPECTED = {
    "Games.item": ITEM_HEADER + "0\tRatchet &amp; Clank&reg; - PlayStation 4\n1\tSuper Mario Odyssey - Nintendo Switch\n"
                                "2\tPok&eacute;mon Sun\n3\tHalo 5: Guardians;\n4\tZelda Breath of the Wild\n",
    "Games-6k.test.inter": INTER_HEADER + "0\t0 1 2\t3\n1\t1 0 4 3\t2\n2\t2 3\t1\n",
    "Games-6k.valid.inter": INTER_HEADER + "0\t0 1\t2\n1\t1 0 4\t3\n2\t2\t3\n",
    "Games.user2index": "u1\t0\nu2\t1\nu4\t2\n",
    "Games.item2index": "B\t0\nA\t1\nG\t2\nD\t3\nE\t4\n",
}


def write_lines(path, lines, compress):
    text = "".join(lines)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def json_lines(records, blank_after=None):
    lines = []
    for i, r in enumerate(records):
        lines.append(json.dumps(r) + "\n")
        if i == blank_after:
            lines.append("\n")
    return lines


class ConvertTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.reviews_gz = os.path.join(self.dir, "Video_Games_5.json.gz")
        self.reviews_plain = os.path.join(self.dir, "Video_Games_5.json")
        self.meta_gz = os.path.join(self.dir, "meta_Video_Games.json.gz")
        self.meta_plain = os.path.join(self.dir, "meta_Video_Games.json")
        write_lines(self.reviews_gz, json_lines(REVIEWS, blank_after=5), compress=True)
        write_lines(self.reviews_plain, json_lines(REVIEWS, blank_after=5), compress=False)
        write_lines(self.meta_gz, json_lines(META), compress=True)
        write_lines(self.meta_plain, json_lines(META), compress=False)

    def tearDown(self):
        self.tmp.cleanup()

    def run_main(self, *args, output="out"):
        out = os.path.join(self.dir, output)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            convert.main(list(args) + ["--output", out])
        return out, buffer.getvalue()

    def read(self, directory):
        files = {}
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), encoding="utf-8", newline="") as f:
                files[name] = f.read()
        return files

    def lines(self, path):
        with open(path, encoding="utf-8", newline="") as f:
            return f.read().split("\n")

    def test_gz_reviews_plain_meta(self):
        out, printed = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_plain)
        self.assertEqual(self.read(out), EXPECTED)
        for line in ["review lines: 20", "review lines skipped (malformed): 1", "duplicate interactions dropped: 2",
                     "items without a title dropped: 2", "interactions of those dropped: 3",
                     "users dropped (fewer than 3 items): 1", "users: 3", "items: 5", "interactions: 12",
                     "test history length: 2..4, mean 3.0"]:
            self.assertIn(line + "\n", printed)

    def test_plain_reviews_gz_meta_same_output(self):
        out, _ = self.run_main("--reviews", self.reviews_plain, "--meta", self.meta_gz)
        self.assertEqual(self.read(out), EXPECTED)

    def test_ratings_csv(self):
        path = os.path.join(self.dir, "Video_Games.csv.gz")
        with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            for r in REVIEWS:
                if "reviewerID" in r:
                    writer.writerow([r["asin"], r["reviewerID"], r["overall"], r["unixReviewTime"]])
        out, _ = self.run_main("--reviews", path, "--meta", self.meta_gz)
        self.assertEqual(self.read(out), EXPECTED)

    def test_k_core(self):
        # Titled interactions: A 4 users, B 3, D 3, G 3, E 1; u3 has 2 items. Round 1 drops E and u3,
        # which leaves B with 2: round 2 drops it.
        out, printed = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz, "--k-core", "3")
        self.assertEqual(self.read(out), {
            "Games.item": ITEM_HEADER + "0\tSuper Mario Odyssey - Nintendo Switch\n1\tPok&eacute;mon Sun\n2\tHalo 5: Guardians;\n",
            "Games-6k.test.inter": INTER_HEADER + "0\t0 1\t2\n1\t0 2\t1\n2\t1 2\t0\n",
            "Games-6k.valid.inter": INTER_HEADER + "0\t0\t1\n1\t0\t2\n2\t1\t2\n",
            "Games.user2index": "u1\t0\nu2\t1\nu4\t2\n",
            "Games.item2index": "A\t0\nG\t1\nD\t2\n",
        })
        self.assertIn("3-core rounds: 2\n", printed)
        self.assertIn("users dropped by --k-core 3: 1\n", printed)
        self.assertIn("items dropped by --k-core 3: 2\n", printed)

    def test_max_length(self):
        out, printed = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz, "--max-length", "3")
        files = self.read(out)
        self.assertEqual(files["Games-6k.test.inter"], INTER_HEADER + "0\t0 1\t2\n1\t3 2\t1\n2\t1 2\t0\n")
        self.assertEqual(files["Games.item"], ITEM_HEADER + "0\tSuper Mario Odyssey - Nintendo Switch\n"
                         "1\tPok&eacute;mon Sun\n2\tHalo 5: Guardians;\n3\tZelda Breath of the Wild\n")
        self.assertIn("users cut to their last 3 items: 2\n", printed)
        self.assertIn("items only in cut or dropped sequences: 1\n", printed)

    def test_refuses_to_overwrite_without_force_and_leaves_no_temporaries(self):
        out, _ = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz)
        with open(os.path.join(out, "Games.item"), "w") as f:
            f.write("sentinel")
        with contextlib.redirect_stdout(io.StringIO()), self.assertRaises(SystemExit):
            convert.main(["--reviews", self.reviews_gz, "--meta", self.meta_gz, "--output", out])
        self.assertEqual(self.read(out)["Games.item"], "sentinel")
        self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz, "--force")
        self.assertEqual(self.read(out), EXPECTED)
        self.assertEqual(sorted(os.listdir(out)), sorted(EXPECTED))

    def test_prefix(self):
        out, _ = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz, "--prefix", "Toys")
        self.assertEqual(sorted(os.listdir(out)), ["Toys-6k.test.inter", "Toys-6k.valid.inter", "Toys.item",
                                                   "Toys.item2index", "Toys.user2index"])

    def test_served_title_matches_the_swift_loader(self):
        # InteractionDataset: HTMLEntities.decode, trim .whitespaces, drop one trailing ';'.
        self.assertEqual(convert.served_title("Ratchet &amp; Clank&reg; - PlayStation 4"), "Ratchet & Clank\u00ae - PlayStation 4")
        self.assertEqual(convert.served_title("Halo 5: Guardians;"), "Halo 5: Guardians")
        self.assertEqual(convert.served_title(" &nbsp; "), "")
        self.assertEqual(convert.served_title(";"), "")
        self.assertEqual(convert.served_title("A &#39;B&#x2019; &sup1; &bogus; &&amp;"), "A 'B\u2019 &sup1; &bogus; &&")
        self.assertEqual(convert.served_title("&#xD800; x"), "&#xD800; x")  # not a scalar: kept as written

    def test_output_loads_as_the_swift_loader_reads_it(self):
        # The line format InteractionDataset parses: header skipped, item_id<TAB>title, user<TAB>history<TAB>item,
        # every id known; a user's sequence is history + [target]; valid = test minus its last item.
        out, _ = self.run_main("--reviews", self.reviews_gz, "--meta", self.meta_gz)
        items = self.lines(os.path.join(out, "Games.item"))
        titles = {}
        for line in [l for l in items[1:] if l]:
            number, title = line.split("\t", 1)
            titles[int(number)] = title
        self.assertEqual(sorted(titles), list(range(len(titles))))
        test = [l.split("\t") for l in self.lines(os.path.join(out, "Games-6k.test.inter"))[1:] if l]
        valid = [l.split("\t") for l in self.lines(os.path.join(out, "Games-6k.valid.inter"))[1:] if l]
        for t, v in zip(test, valid):
            self.assertEqual(len(t), 3)
            sequence = [int(x) for x in t[1].split()] + [int(t[2])]
            self.assertTrue(all(i in titles for i in sequence))
            self.assertEqual(len(set(sequence)), len(sequence))
            self.assertEqual([int(x) for x in v[1].split()] + [int(v[2])], sequence[:-1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
