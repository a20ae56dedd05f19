#!/usr/bin/env python3
"""The ceiling: posts prebuilt bulk bodies (make_bodies.py), each exactly once, over CONNECTIONS
keep-alive connections (a process each), and prints the wall seconds it took. No work is done
per request beyond sending bytes already in memory, so the rate is the server's own ingest
rate for the same N items every client sends.

    ceiling.py URL TOKEN BODIES_DIR COUNT CONNECTIONS
"""
import http.client
import multiprocessing
import os
import sys
import time
from urllib.parse import urlsplit


def post_share(url, token, bodies, ready, go):
    """One connection, in a process of its own (no GIL shared with the others)."""
    target = urlsplit(url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    conn.connect()
    ready.wait()
    go.wait()
    for body in bodies:
        conn.request("POST", target.path, body=body, headers=headers)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 200:
            sys.exit(f"ceiling: a request failed with {reply.status}")
    conn.close()


def main(url, token, bodies_dir, count, connections):
    count, connections = int(count), int(connections)
    bodies = []
    for k in range(count):
        with open(os.path.join(bodies_dir, f"{k:06d}.json"), "rb") as f:
            bodies.append(f.read())
    ready = multiprocessing.Barrier(connections + 1)
    go = multiprocessing.Event()
    workers = [
        multiprocessing.Process(target=post_share, args=(url, token, bodies[k::connections], ready, go))
        for k in range(connections)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if any(worker.exitcode != 0 for worker in workers):
        sys.exit("ceiling: a connection failed")
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:6])
