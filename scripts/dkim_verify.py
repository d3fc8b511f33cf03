#!/usr/bin/env python3
"""An independent DKIM check for the tests: dkimpy (PyPI `dkimpy`) verifies messages the
product signed, fed the DKIM TXT record the product told the company to publish.

    dkim_verify.py DIR

DIR holds pairs NAME.eml (the message, exactly as handed to SMTP) and NAME.txt (two lines: the
DNS name of the record, then its value). Prints one line per message, `NAME pass` or
`NAME fail <why>`, and exits 0 (the verdicts are in the lines) or 2 when dkimpy is missing.
"""
import os
import sys

try:
    import dkim
except ImportError:
    print("dkimpy is not installed: pip install dkimpy (scripts/setup.sh does)", file=sys.stderr)
    sys.exit(2)


def verify(message, name, record):
    def dnsfunc(query, timeout=5):
        asked = query.decode() if isinstance(query, bytes) else query
        return record.encode() if asked.rstrip(".").lower() == name.lower() else None

    logs = []

    class Collect:
        def __getattr__(self, _level):
            return lambda msg, *args: logs.append(msg % args if args else msg)

    try:
        ok = dkim.verify(message, logger=Collect(), dnsfunc=dnsfunc, minkey=2048)
    except Exception as error:  # a malformed signature is a failure, not a crash
        return False, "%s: %s" % (type(error).__name__, error)
    return ok, "; ".join(str(line) for line in logs[-2:]).replace("\n", " ")


def main():
    directory = sys.argv[1]
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".eml"):
            continue
        case = entry[:-4]
        with open(os.path.join(directory, entry), "rb") as f:
            message = f.read()
        with open(os.path.join(directory, case + ".txt")) as f:
            name, record = f.read().split("\n", 1)
        ok, why = verify(message, name.strip(), record.strip())
        print(case, "pass" if ok else "fail " + why)


if __name__ == "__main__":
    main()
