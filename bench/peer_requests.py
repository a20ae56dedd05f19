#!/usr/bin/env python3
"""Peer 1: a `requests` loop posting 1000-item chunks one after another (the vendor docs' style)."""
import sys

import requests

from peers_common import chunks

url, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
session = requests.Session()
headers = {"Authorization": f"Bearer {token}"}
for chunk in chunks(path):
    reply = session.post(url, json={"items": chunk, "unique_field": "sku"}, headers=headers, timeout=60)
    reply.raise_for_status()
