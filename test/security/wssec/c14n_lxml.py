#!/usr/bin/python3
"""Reference exclusive c14n (libxml2, through lxml) for the canonicalizer test.

Reads a JSON list of {"xml": ..., "prefixes": [...]} on stdin; for each, canonicalizes the first
element named T (any namespace), else the root, without comments; prints a JSON list of strings.
"""
import json
import sys

from lxml import etree


def main():
    out = []
    for case in json.load(sys.stdin):
        root = etree.fromstring(case['xml'].encode('utf-8'))
        found = root.xpath("//*[local-name()='T']")
        target = found[0] if found else root
        c14n = etree.tostring(target, method='c14n', exclusive=True, with_comments=False,
                              inclusive_ns_prefixes=case['prefixes'] or None)
        out.append(c14n.decode('utf-8'))
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
