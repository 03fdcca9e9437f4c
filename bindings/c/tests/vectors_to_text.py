#!/usr/bin/env python3
"""Converts tests/vectors/frames.json to one line per case for test_vectors.c:

  E name algorithm min_size level input_hex stored_hex   (encode case)
  D name stored_hex output_hex                           (decode case)
  X name stored_hex code                                 (decode error case)

An empty byte string is written as "-".
"""
import json
import sys


def hx(text):
    return text or "-"


def main(path):
    for case in json.load(open(path)):
        name = case["name"]
        if "config" in case:
            c = case["config"]
            print("E", name, c["algorithm"], c["min_size"], c["level"], hx(case["input_hex"]), hx(case["stored_hex"]))
        elif "expect_error" in case:
            print("X", name, hx(case["stored_hex"]), case["expect_error"])
        else:
            print("D", name, hx(case["stored_hex"]), hx(case["output_hex"]))


if __name__ == "__main__":
    main(sys.argv[1])
