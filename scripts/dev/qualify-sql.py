#!/usr/bin/env python3
"""Schema-qualifies the product's tables, types and functions in Swift SQL strings.

The product's sessions run with search_path = pg_catalog, pg_temp (docs/security.md), so every
table, type and function of ours is written with its schema. Run after adding SQL:
    python3 scripts/dev/qualify-sql.py Sources
It rewrites `FROM deliveries` to `FROM public.deliveries` and so on, and leaves qualified names alone.
"""
import pathlib
import re
import sys

TABLES = ("jobs|job_schedules|job_history|job_history_default|channels|customers|customer_devices|chats|messages|chat_reads|activity|"
          "push_receipts|follow_ups|deliveries|delivery_report|schema_migrations|schema_repeatables|"
          "channel_email_domains|email_domain_records|suppressions|inbound_events")
KEYWORDS = r"FROM|JOIN|INTO|UPDATE|TABLE|REFERENCES|EXISTS"
table = re.compile(r"\b(" + KEYWORDS + r")(\s+)(" + TABLES + r")\b(?![.(\w])")
function = re.compile(r"(?<![.\w])(jobs_enqueue|jobs_lease_lost|job_history_create_partition|job_history_drop_partitions)\(")
types = re.compile(r"::(job_state)\b")

changed = 0
for root in sys.argv[1:] or ["Sources"]:
    for path in pathlib.Path(root).rglob("*.swift"):
        text = path.read_text()
        new = table.sub(lambda m: f"{m.group(1)}{m.group(2)}public.{m.group(3)}", text)
        new = function.sub(lambda m: f"public.{m.group(1)}(", new)
        new = types.sub(lambda m: f"::public.{m.group(1)}", new)
        if new != text:
            path.write_text(new)
            changed += 1
print(f"qualified SQL in {changed} files")
