"""What both Python peers share: read the CSV the way the vendor docs' examples would, and
build 1000-item bulk bodies."""
import csv

CHUNK = 1000


def items(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [name.split(":")[0] for name in next(reader)]
        for row in reader:
            item = dict(zip(header, row))
            item["price"] = float(item["price"])
            yield item


def chunks(path):
    chunk = []
    for item in items(path):
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
