#!/usr/bin/python3
"""Cross-check (a): every method the codec implements against the AMQP 0-9-1 spec XML.

For each method `codec_tool fields` lists (ids, name, synchronous, content, arguments with
their wire types, all taken from the C++ declarations), the XML must have a method with the
same class and method index, the same dotted name, the same argument names in the same order
with the same primitive types (domains resolved), and the same synchronous/content flags.
Known, deliberate differences are listed in EXCEPTIONS with the reason; anything else fails.

usage: spec_check.py CODEC_TOOL SPEC_XML
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

# Methods RabbitMQ implements that the stripped XML does not carry.
EXTENSIONS = {
    "connection.blocked": "RabbitMQ extension (connection.blocked capability), not in the XML",
    "connection.unblocked": "RabbitMQ extension (connection.blocked capability), not in the XML",
}
# (method, attribute) -> reason
EXCEPTIONS = {
    ("basic.recover", "synchronous"):
        "the XML has no synchronous flag on basic.recover, but RabbitMQ answers it with "
        "basic.recover-ok and clients wait for that (pika's spec.py marks it synchronous)",
}


def load_spec(path):
    root = ET.parse(path).getroot()
    domains = {d.get("name"): d.get("type") for d in root.findall("domain")}
    methods = {}
    for cls in root.findall("class"):
        for m in cls.findall("method"):
            fields = []
            for f in m.findall("field"):
                t = f.get("type") or domains[f.get("domain")]
                # Domains may chain (domain -> domain -> primitive).
                while t in domains and domains[t] != t:
                    t = domains[t]
                fields.append([f.get("name"), t])
            methods[(int(cls.get("index")), int(m.get("index")))] = {
                "name": cls.get("name") + "." + m.get("name"),
                "synchronous": m.get("synchronous") == "1",
                "content": m.get("content") == "1",
                "fields": fields,
            }
    return methods


def main():
    tool, xml_path = sys.argv[1], sys.argv[2]
    spec = load_spec(xml_path)
    out = subprocess.run([tool, "fields"], check=True, capture_output=True, text=True).stdout
    ours = [json.loads(line) for line in out.splitlines() if line.strip()]
    problems, checked, waived = [], 0, []
    for m in ours:
        key = (m["class_id"], m["method_id"])
        name = m["name"]
        if name in EXTENSIONS:
            if key in spec:
                problems.append(f"{name}: listed as an extension but the XML has {spec[key]['name']}")
            waived.append(f"{name}: {EXTENSIONS[name]}")
            continue
        s = spec.get(key)
        if s is None:
            problems.append(f"{name} {key}: no such class/method index in the XML")
            continue
        checked += 1
        if s["name"] != name:
            problems.append(f"{key}: we call it {name}, the XML {s['name']}")
        if s["fields"] != m["fields"]:
            problems.append(f"{name}: arguments differ\n  ours: {m['fields']}\n  spec: {s['fields']}")
        for attr in ("synchronous", "content"):
            if s[attr] != m[attr]:
                reason = EXCEPTIONS.get((name, attr))
                if reason:
                    waived.append(f"{name}.{attr}: {reason}")
                else:
                    problems.append(f"{name}: {attr} is {m[attr]}, the XML says {s[attr]}")
    names = [m["name"] for m in ours]
    if len(set(names)) != len(names):
        problems.append("a method is listed twice")
    for w in waived:
        print("waived:", w)
    print(f"checked {checked} methods against {xml_path} ({len(spec)} methods in the XML)")
    if problems:
        print("\n".join("MISMATCH: " + p for p in problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
