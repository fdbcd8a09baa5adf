"""Captures the request bodies the real cohere SDK sends, for the adapter fixtures.

    python3 -m venv venv-clients && venv-clients/bin/pip install -r scripts/clients/requirements.txt
    venv-clients/bin/python scripts/clients/capture_cohere_bodies.py Tests/ServiceTests/Fixtures/clients

A local listener records each request (method, path, headers that matter, body) and answers
with a minimal valid reply of the shape the SDK expects, so the SDK call completes.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import cohere

captured = []


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        captured.append({"method": "POST", "path": self.path,
                         "content_type": self.headers.get("Content-Type"),
                         "body": json.loads(body)})
        if self.path == "/v2/rerank":
            reply = {"id": "x", "results": [{"index": 0, "relevance_score": 0.5}],
                     "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}
        else:
            reply = {"id": "x", "results": [{"index": 0, "relevance_score": 0.5, "document": {"text": "a"}}],
                     "meta": {"api_version": {"version": "1"}}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main(out_dir):
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    docs = ["Mario Kart 8 Deluxe", "HDMI Cable 6ft", "Crash Team Racing Nitro-Fueled"]
    v2 = cohere.ClientV2(api_key="test-key", base_url=base)
    v2.rerank(model="rerank-v3.5", query="a racing game for my kids", documents=docs, top_n=2)
    v2.rerank(model="rerank-v3.5", query="a racing game for my kids", documents=docs, top_n=10, max_tokens_per_doc=512)
    v1 = cohere.Client(api_key="test-key", base_url=base)
    v1.rerank(model="rerank-english-v3.0", query="a racing game for my kids", documents=docs, top_n=2, return_documents=True)
    v1.rerank(model="rerank-english-v3.0", query="a racing game for my kids",
              documents=[{"text": d} for d in docs], return_documents=True, rank_fields=["text"])
    names = ["cohere-v2-rerank.json", "cohere-v2-rerank-max-tokens.json",
             "cohere-v1-rerank-strings.json", "cohere-v1-rerank-objects.json"]
    for name, record in zip(names, captured):
        record["client"] = f"cohere {cohere.__version__}"
        with open(f"{out_dir}/{name}", "w") as f:
            json.dump(record, f, indent=2, sort_keys=True)
            f.write("\n")
        print(name, record["path"], json.dumps(record["body"]))
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
