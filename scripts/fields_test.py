#!/usr/bin/env python3
"""The documents that repeat /generate's request fields agree with the one
table the server parses them with (`gpt-server --print-request-fields`):

- openapi.yaml: GenerateRequest has exactly the table's fields, each with its
  type, minimum (or exclusiveMinimum), maximum and default; the OpenAI request
  schemas have the table's OpenAI names with OpenAI's defaults and maxima;
  GET /model's `defaults` lists exactly the configurable fields;
- config/server.json and the Kubernetes ConfigMap: `defaults` holds exactly the
  configurable fields, each at its built-in default, with the right JSON type;
- README.md: the request fields table names every field with its default, and
  the configuration section names every `defaults.*` setting;
- `generate --help`: every flag named like a field shows the field's default.

  python3 scripts/fields_test.py [--build .build/debug]
"""
import argparse
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REFERENCES = {"prompt": "Prompt", "stop": "Stop", "logit_bias": "LogitBias"}

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as file:
        return file.read()


def types_of(schema):
    """The schema's JSON types, without 'null' (OpenAI's fields allow it)."""
    declared = schema.get("type", [])
    return {t for t in ([declared] if isinstance(declared, str) else declared) if t != "null"}


def references_of(schema):
    found = [schema.get("$ref", "")] + [option.get("$ref", "") for option in schema.get("oneOf", [])]
    return {reference.rsplit("/", 1)[-1] for reference in found if reference}


def same_json_value(kind, documented, expected):
    """Equal as values of the field's type: 1.0 and 1 are the same number; a bool is not an integer."""
    if kind == "boolean":
        return documented is expected
    if kind == "integer":
        return isinstance(documented, int) and not isinstance(documented, bool) and documented == expected
    return isinstance(documented, (int, float)) and not isinstance(documented, bool) and documented == expected


def check_schema(where, field, schema, maximum, default):
    """One property of a request schema against the table's entry for it."""
    kind = field["type"]
    if kind in REFERENCES:
        check(REFERENCES[kind] in references_of(schema), f"{where}: must refer to #/components/schemas/{REFERENCES[kind]}")
        return
    check(types_of(schema) == {kind}, f"{where}: type {sorted(types_of(schema))}, the table says {kind}")
    if field["minimum"] is not None:
        bound = "exclusiveMinimum" if field["exclusive_minimum"] else "minimum"
        other = "minimum" if field["exclusive_minimum"] else "exclusiveMinimum"
        check(schema.get(bound) == field["minimum"], f"{where}: {bound} {schema.get(bound)}, the table says {field['minimum']}")
        check(other not in schema, f"{where}: has {other}, the table has {bound}")
    if maximum is None:
        check("maximum" not in schema, f"{where}: maximum {schema.get('maximum')}, but the table's depends on the model "
                                       f"({field['maximum_of']})")
    else:
        check(schema.get("maximum") == maximum, f"{where}: maximum {schema.get('maximum')}, the table says {maximum}")
    if default is None:
        check("default" not in schema, f"{where}: default {schema.get('default')}, the table has none")
    else:
        check("default" in schema and same_json_value(kind, schema["default"], default),
              f"{where}: default {schema.get('default')!r}, the table says {default!r}")


def check_openapi(table):
    spec = yaml.safe_load(read("openapi.yaml"))
    schemas = spec["components"]["schemas"]
    generate = schemas["GenerateRequest"]["properties"]
    names = [field["name"] for field in table]
    check(set(generate) == set(names), f"openapi GenerateRequest: fields {sorted(set(generate) ^ set(names))} "
                                       "differ from the table")
    for field in table:
        if field["name"] in generate:
            check_schema(f"openapi GenerateRequest.{field['name']}", field, generate[field["name"]],
                         field["maximum"], field["default"])
    for request in ("OpenAICompletionRequest", "ChatCompletionRequest"):
        properties = schemas[request]["properties"]
        for field in table:
            name = field["openai"]
            # A chat has messages, not a prompt, and its own logprobs (a boolean with top_logprobs).
            if name is None or (request == "ChatCompletionRequest" and name in ("prompt", "logprobs")):
                continue
            if name not in properties:
                problems.append(f"openapi {request}: lacks {name} (/generate's {field['name']})")
                continue
            maximum = field["openai_maximum"] if field["openai_maximum"] is not None else field["maximum"]
            default = field["openai_default"] if field["openai_default"] is not None else field["default"]
            check_schema(f"openapi {request}.{name}", field, properties[name], maximum, default)
    model = schemas["ModelInfo"]["properties"]["defaults"]["properties"]
    configurable = {field["name"]: field for field in table if field["configurable"]}
    check(set(model) == set(configurable), f"openapi ModelInfo.defaults: fields {sorted(set(model) ^ set(configurable))} "
                                           "differ from the configurable ones")
    for name, schema in model.items():
        if name in configurable:
            check(types_of(schema) == {configurable[name]["type"]}, f"openapi ModelInfo.defaults.{name}: wrong type")


def check_config_defaults(where, defaults, table):
    configurable = {field["name"]: field for field in table if field["configurable"]}
    check(set(defaults) == set(configurable), f"{where}: defaults {sorted(set(defaults) ^ set(configurable))} "
                                              "differ from the configurable fields")
    for name, value in defaults.items():
        if name in configurable:
            field = configurable[name]
            check(same_json_value(field["type"], value, field["default"]),
                  f"{where}: defaults.{name} is {value!r}, the built-in default is {field['default']!r}")


def check_readme(table):
    readme = read("README.md")
    section = readme.split("### Request fields", 1)[1].split("\n### ", 1)[0]
    rows = {match.group(1): match.group(2).strip()
            for match in re.finditer(r"^\| `([a-z_]+)` \| ([^|]*) \|", section, re.MULTILINE)}
    for field in table:
        name = field["name"]
        if name not in rows:
            problems.append(f"README Request fields: no row for {name}")
        elif field["default"] is not None:
            try:
                documented = json.loads(rows[name])
            except ValueError:
                documented = rows[name]
            check(same_json_value(field["type"], documented, field["default"])
                  or (field["type"] == "number" and documented == field["default"]),
                  f"README Request fields: {name}'s default is {rows[name]}, the table says {field['default']}")
    check(set(rows) == {field["name"] for field in table},
          f"README Request fields: rows {sorted(set(rows) ^ {field['name'] for field in table})} differ from the table")
    configuration = readme.split("### Configuration", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"`defaults\.([a-z_]+)`", configuration))
    configurable = {field["name"] for field in table if field["configurable"]}
    check(documented == configurable, f"README Configuration: defaults.* settings {sorted(documented ^ configurable)} "
                                      "differ from the configurable fields")


def check_cli(build, table):
    help_text = subprocess.run([os.path.join(build, "generate"), "--help"], capture_output=True, text=True,
                               check=True).stdout
    # Each option's text runs from its flag to the next option.
    options = {match.group(1): " ".join(match.group(0).split())
               for match in re.finditer(r"^  --([a-z_]+)(?:(?!^  -)[\s\S])*", help_text, re.MULTILINE)}
    for field in table:
        name = field["name"]
        if name not in options or field["default"] is None:
            continue
        found = re.search(r"\(default: ([^)]+)\)", options[name])
        if found:
            documented = json.loads(found.group(1))
        elif field["type"] == "boolean":
            documented = False  # a flag without a value: off unless given
        else:
            problems.append(f"generate --help: --{name} shows no default")
            continue
        check(same_json_value(field["type"], documented, field["default"]),
              f"generate --help: --{name} defaults to {documented!r}, the table says {field['default']!r}")
    # Every field is a flag.
    missing = [field["name"] for field in table if field["name"] not in options]
    check(not missing, f"generate --help: no flag for {missing}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    args = parser.parse_args()
    dump = subprocess.run([os.path.join(args.build, "gpt-server"), "--print-request-fields"], capture_output=True,
                          text=True, check=True).stdout
    table = json.loads(dump)
    check(len(table) >= 20, f"the table has {len(table)} fields")
    check_openapi(table)
    check_config_defaults("config/server.json", json.loads(read("config/server.json"))["defaults"], table)
    configmap = yaml.safe_load(read("deploy/kubernetes/configmap.yaml"))
    check_config_defaults("deploy/kubernetes/configmap.yaml", json.loads(configmap["data"]["server.json"])["defaults"], table)
    check_readme(table)
    check_cli(args.build, table)
    for problem in problems:
        print("fields:", problem)
    print(f"fields: {len(table)} fields checked, {'passed' if not problems else f'{len(problems)} problems'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
