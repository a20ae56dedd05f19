#!/usr/bin/env python3
"""Prebuilds the rastro bulk request bodies (1000 items each) for the load generator, so the
ceiling measures the server alone."""
import json
import os
import sys

from peers_common import chunks

path, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
count = 0
for count, chunk in enumerate(chunks(path), start=1):
    with open(os.path.join(out_dir, f"{count - 1:06d}.json"), "w", encoding="utf-8") as f:
        json.dump({"items": chunk, "unique_field": "sku"}, f, separators=(",", ":"))
print(count)
