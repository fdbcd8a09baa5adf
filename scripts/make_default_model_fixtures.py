#!/usr/bin/env python3
"""PyTorch expectations for the shipped default model: 20 fixed requests
(instructions rendered like the service renders them, with game titles we
wrote ourselves), scored by transformers on the same checkpoint (F32
arithmetic on its BF16 weights, as our engine does). The Swift test
Tests/ServiceTests/DefaultModelTests.swift checks the engine against them.

Run: venv/bin/python scripts/make_default_model_fixtures.py models/default Tests/ServiceTests/Fixtures/default-model-golden.json
"""
import json
import os
import random
import sys

import torch
from tokenizers import Tokenizer
from transformers import T5ForConditionalGeneration

from sample_titles import TITLES  # noqa: E402  (scripts/ is on sys.path when run as a script)
from t5_reference import log_likelihoods  # noqa: E402

# The one Python renderer (scripts/train/templates.py), held to the service's TemplateSet.render byte for
# byte by Tests/InstructRecTests/TrainRenderParityTests: item_format and separators included.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train"))
from templates import Templates  # noqa: E402


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/default"
    out = sys.argv[2] if len(sys.argv) > 2 else "Tests/ServiceTests/Fixtures/default-model-golden.json"
    own = os.path.join(model_dir, "templates.json")  # the model's own templates, as the service uses them
    templates = Templates(own if os.path.exists(own) else "config/templates.json")
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    model = T5ForConditionalGeneration.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    rng = random.Random(20)
    requests = []
    for r in range(20):
        picks = rng.sample(TITLES, 4 + 10)
        history, candidates = picks[:4], picks[4:]
        text = templates.render("recommend.history", history=history, candidates=candidates)
        instruction = tokenizer.encode(text).ids  # </s> appended by the post-processor
        targets = [tokenizer.encode(t, add_special_tokens=False).ids for t in candidates]
        scores = log_likelihoods(model, instruction, targets)
        requests.append({"instruction": text, "instruction_ids": instruction, "candidates": candidates,
                         "candidate_ids": targets, "scores": scores})
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"model": model_dir, "requests": requests}, f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
