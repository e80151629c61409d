#!/usr/bin/env python3
"""What a user would otherwise script: follow the provider's next-page URLs
with urllib, parse each page with json, and COPY the typed rows into a table
through psql. Standard library only. Usage: python_baseline.py URL TABLE"""
import csv
import io
import json
import subprocess
import sys
import urllib.request


def main():
    url, table = sys.argv[1], sys.argv[2]
    psql = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"COPY {table} FROM STDIN WITH (FORMAT csv)"],
        stdin=subprocess.PIPE)
    out = io.TextIOWrapper(psql.stdin, encoding="utf-8", newline="")
    writer = csv.writer(out)
    rows = 0
    while url:
        with urllib.request.urlopen(url) as resp:
            page = json.load(resp)
        for r in page["results"]:
            writer.writerow((r["meter_id"], r["interval_start"], r["interval_end"],
                             r["consumption"], r["unit"], r["estimated"]))
        rows += len(page["results"])
        url = page.get("next")
    out.close()
    if psql.wait() != 0:
        sys.exit("psql COPY failed")
    print(rows)


if __name__ == "__main__":
    main()
