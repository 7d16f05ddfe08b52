#!/usr/bin/env python3
"""Reads Prometheus's /api/v1/alerts answer on stdin.

  prom-alerts.py state NAME   prints firing, pending or inactive for alert NAME
  prom-alerts.py list         prints one line per alert: name, state, labels, summary
"""
import json
import sys

alerts = json.load(sys.stdin)["data"]["alerts"]
if sys.argv[1] == "state":
    states = [a["state"] for a in alerts if a["labels"].get("alertname") == sys.argv[2]]
    print("firing" if "firing" in states else (states[0] if states else "inactive"))
else:
    for a in alerts:
        labels = a["labels"]
        where = " ".join("%s=%s" % (k, v) for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
        print("%s %s [%s] %s: %s" % (labels.get("alertname"), a["state"].upper(), labels.get("severity", ""),
                                     where, a["annotations"].get("summary", "")))
        for line in a["annotations"].get("description", "").strip().splitlines():
            print("    " + line)
