#!/usr/bin/env python3
"""Writes a deterministic product CSV of N rows (~150 bytes each): sku,title,price,brand,description.

The price column carries catops' header type hint (price:number); every client sends price as
a JSON number, so all of them post the same items.
"""
import random
import sys

rows, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261127)
brands = ["Northwind", "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell"]
nouns = ["Running Shoe", "Wool Socks", "Water Bottle", "Canvas Backpack", "LED Headlamp",
         "Rain Jacket", "Cast Iron Skillet", "Bluetooth Speaker", "Desk Lamp", "Yoga Mat"]
with open(path, "w", encoding="utf-8", newline="") as out:
    out.write("sku,title,price:number,brand,description\n")
    for n in range(rows):
        brand = brands[n % len(brands)]
        noun = nouns[(n // len(brands)) % len(nouns)]
        price = rng.randint(199, 49999) / 100
        description = f"{noun} by {brand} - model {n % 997:03d} - durable and light and made for daily use at home or outdoors"
        out.write(f"SKU-{n:08d},{brand} {noun} {n % 97:02d},{price:.2f},{brand},{description}\n")
