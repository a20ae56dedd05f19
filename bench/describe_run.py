#!/usr/bin/env python3
"""One catops summary (JSON on stdin) as the bench reports it: `range` prints the limit's
range of requests in flight, `retries` the accepted rows, retries and in-flight range."""
import json
import sys

summary = json.load(sys.stdin)
limit = summary["concurrency"]
if sys.argv[1] == "range":
    print("%d–%d" % (limit["min"], limit["max"]))
else:
    share = 100 * summary["retries"] / max(1, summary["requests"])
    print(
        "%d of %d rows accepted, %d retries in %d requests (%.2f%%), in flight %d–%d"
        % (summary["accepted"], summary["rows_read"], summary["retries"], summary["requests"],
           share, limit["min"], limit["max"])
    )
