#!/usr/bin/env python3
"""Peer 2: an httpx asyncio client keeping 8 requests in flight, fed through a bounded queue."""
import asyncio
import sys

import httpx

from peers_common import chunks

IN_FLIGHT = 8


async def main(url, token, path):
    queue = asyncio.Queue(maxsize=IN_FLIGHT * 2)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def worker():
            while True:
                chunk = await queue.get()
                if chunk is None:
                    return
                reply = await client.post(url, json={"items": chunk, "unique_field": "sku"})
                reply.raise_for_status()

        workers = [asyncio.create_task(worker()) for _ in range(IN_FLIGHT)]
        for chunk in chunks(path):
            await queue.put(chunk)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)


asyncio.run(main(*sys.argv[1:4]))
