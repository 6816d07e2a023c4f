"""The fingerprint sisopi frames every message with: CRC-64-AVRO of the schema's Parsing
Canonical Form (schemas/README.md), computed right despite python3-avro 1.11.1, whose
canonical_form keeps {"type":"long"} where a long had a logicalType. Shared by the producer
and the consumer examples."""
import json

CRC64_EMPTY = 0xC15D213AA4D7A795


def crc64_avro(data):
    fp = CRC64_EMPTY
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1))
    return fp


def parsing_canonical_form(schema):
    """The specification's form: a primitive type whose attributes were stripped is its bare
    name ("long"), not {"type": "long"}."""

    def strip(node):
        if isinstance(node, dict):
            if list(node) == ["type"] and isinstance(node["type"], str):
                return node["type"]
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip(json.loads(schema.canonical_form)), separators=(",", ":"))


def fingerprint(schema):
    return crc64_avro(parsing_canonical_form(schema).encode("utf-8"))
