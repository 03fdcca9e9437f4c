#!/usr/bin/env python3
"""Turns the conformance scenarios (JSON) into a line format the C runner
reads without a JSON parser. Translation only: no expected value is added.

    scenario NAME
    step op=get cache=a key=x6b6579 expect=x76
    skip set ttl_ms is -1: C's ttl_ms is uint64_t, ...
    ...
    end

Each step is one line of name=value tokens. Nested values are flattened
(`items.0.1=...`); a list gives `name=#N` then `name.0` .. `name.N-1`.
Values: `x<hex>` bytes, `n` null, `m` an L1 miss ({"miss": true}),
decimal integers, `d<number>` for a non-integer number (`d2.5`, and `dnan`,
`dinf`, `d-inf` for {"number": "NaN" / "Infinity" / "-Infinity"}), `1`/`0`
booleans, bare words for op/cache/name/error and the ttl keywords. An `eventually` step is followed by its inner step on the
next line. An `open` step's config is JSON text (hex) with "@URL@" standing
for the server URL where the scenario gives none.

A step the C API cannot express (`c_cannot`: a wrong argument type, a
negative or non-finite ttl_ms) becomes a `skip OP REASON` line (the reason
runs to the end of the line); the runner prints every skip with its reason.
Nothing else is skipped.
"""

import json
import sys
from pathlib import Path

WORDS = {"op", "cache", "name", "error"}
# {"number": ...} as strtod spells it.
NUMBERS = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}
DROPPED = {"why", "description", "step"}


def c_cannot(step):
    """Why the C API cannot make this call, or None. Each reason is a value
    C's types rule out, so the step has no C translation."""
    if step.get("op") == "eventually":
        return c_cannot(step["step"])

    def wrong_type(v):
        if isinstance(v, dict):
            return "wrong_type" in v or any(wrong_type(x) for x in v.values())
        return isinstance(v, list) and any(wrong_type(x) for x in v)

    if any(wrong_type(v) for k, v in step.items() if k not in DROPPED):
        return "a wrong argument type: C passes (pointer, length) byte strings, a number cannot stand in for one"
    ttl = step.get("ttl_ms")
    if isinstance(ttl, dict) and "number" in ttl:
        return f"ttl_ms is {ttl['number']}: C's ttl_ms is uint64_t, which has no such value"
    if isinstance(ttl, (int, float)) and ttl < 0:
        return f"ttl_ms is {ttl}: C's ttl_ms is uint64_t, so a negative TTL cannot be passed"
    return None


def data(v):
    if isinstance(v, str):
        return "x" + v.encode().hex()
    if "hex" in v:
        return "x" + v["hex"].lower()
    if "repeat" in v:
        return "x" + (v["repeat"].encode() * v["times"]).hex()
    if v.get("miss"):
        return "m"
    return None


def flatten(name, v, out, word=False):
    if v is None:
        out.append(f"{name}=n")
    elif isinstance(v, bool):
        out.append(f"{name}={int(v)}")
    elif isinstance(v, int):
        out.append(f"{name}={v}")
    elif isinstance(v, float):
        out.append(f"{name}=d{v!r}")
    elif isinstance(v, str):
        out.append(f"{name}={v}" if word else f"{name}={data(v)}")
    elif isinstance(v, list):
        out.append(f"{name}=#{len(v)}")
        for i, item in enumerate(v):
            flatten(f"{name}.{i}", item, out)
    elif isinstance(v, dict):
        encoded = data(v) if v.keys() & {"hex", "repeat", "miss"} else None
        if "number" in v:
            out.append(f"{name}=d{NUMBERS[v['number']]}")
        elif encoded is not None:
            out.append(f"{name}={encoded}")
        else:
            for k, item in v.items():
                flatten(f"{name}.{k}", item, out)
    else:
        raise ValueError(f"cannot encode {name}={v!r}")


def step_lines(step):
    reason = c_cannot(step)
    if reason is not None:
        return [f"skip {step['op']} {reason}"]
    tokens = ["step"]
    for k, v in step.items():
        if k in DROPPED:
            continue
        if k == "config":
            config = json.loads(json.dumps(v))
            config.setdefault("redis", {}).setdefault("url", "@URL@")
            tokens.append("config=x" + json.dumps(config).encode().hex())
        elif step["op"] == "ttl" and k == "expect" and isinstance(v, str):
            tokens.append(f"expect={v}")
        else:
            flatten(k, v, tokens, word=k in WORDS)
    lines = [" ".join(tokens)]
    if step["op"] == "eventually":
        lines += step_lines(step["step"])
    return lines


def main():
    for path in sorted(Path(sys.argv[1]).glob("*.json")):
        scenario = json.loads(path.read_text())
        print(f"scenario {path.stem}")
        for step in scenario["steps"]:
            print("\n".join(step_lines(step)))
        print("end")


if __name__ == "__main__":
    main()
