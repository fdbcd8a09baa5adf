"""Runs real reranker clients against a live instructrec (make run, or any base URL).

    python3 -m venv venv-clients && venv-clients/bin/pip install -r scripts/clients/requirements.txt
    venv-clients/bin/python scripts/clients/real_clients.py [http://127.0.0.1:8080]

- cohere ClientV2.rerank           -> POST /v2/rerank
- cohere Client.rerank(return_documents=True) -> POST /v1/rerank
- a TEI-shaped request (the body text-embeddings-inference documents) -> POST /rerank
- a Jina-shaped request (the body Jina's rerank API documents)        -> POST /v1/rerank
Exits non-zero if any call fails or answers in the wrong shape.
"""
import sys

import cohere
import requests

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
query = "a racing game for my kids"
docs = ["Call of Duty: Black Ops 4", "Mario Kart 8 Deluxe", "HDMI Cable 6ft", "Crash Team Racing Nitro-Fueled"]
failures = 0


def check(name, ok, detail):
    global failures
    print(("ok  " if ok else "FAIL") + f"  {name}: {detail}")
    failures += 0 if ok else 1


v2 = cohere.ClientV2(api_key="unused", base_url=base)
r = v2.rerank(model="instructrec", query=query, documents=docs, top_n=2)
check("cohere ClientV2.rerank", len(r.results) == 2 and r.meta.api_version.version == "2",
      ", ".join(f"{docs[x.index]!r} {x.relevance_score:.3f}" for x in r.results))

v1 = cohere.Client(api_key="unused", base_url=base)
r = v1.rerank(model="instructrec", query=query, documents=docs, top_n=3, return_documents=True)
check("cohere Client.rerank(return_documents=True)", len(r.results) == 3 and all(x.document.text for x in r.results),
      ", ".join(f"{x.document.text!r} {x.relevance_score:.3f}" for x in r.results))

resp = requests.post(f"{base}/rerank", json={"query": query, "texts": docs, "return_text": True, "truncate": True})
body = resp.json()
check("TEI /rerank", resp.status_code == 200 and isinstance(body, list) and len(body) == len(docs),
      f"{resp.status_code} " + ", ".join(f"{x['text']!r} {x['score']:.3f}" for x in body))
resp = requests.post(f"{base}/rerank", json={"query": query, "texts": []})
check("TEI /rerank error shape", resp.status_code == 422 and set(resp.json()) == {"error", "error_type"}, f"{resp.status_code} {resp.json()}")

resp = requests.post(f"{base}/v1/rerank", json={"model": "jina-reranker-v2-base-multilingual", "query": query,
                                                "documents": docs, "top_n": 10, "return_documents": True})
body = resp.json()
check("Jina /v1/rerank", resp.status_code == 200 and len(body["results"]) == len(docs) and "total_tokens" in body["usage"],
      f"{resp.status_code} model={body.get('model')} usage={body.get('usage')} "
      + ", ".join(f"{x['document']['text']!r} {x['relevance_score']:.3f}" for x in body["results"]))
sys.exit(1 if failures else 0)
