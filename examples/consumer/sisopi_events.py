#!/usr/bin/python3
"""Print every event on sisopi.events, one line each, for auditors.

Uses only Debian's python3-avro and python3-confluent-kafka and the files in schemas/.
Reads every partition from the beginning, joins no consumer group and commits nothing.
Exit status: 0 all read, 2 read but some messages could not be decoded, 1 failed.
"""
import argparse
import glob
import io
import os
import sys
import time

import avro.errors
import avro.io
import avro.schema
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from sisopi_fingerprint import fingerprint  # noqa: E402 (beside the examples)
# The fingerprints sisopi uses (schemas/README.md): a schema that gives another one is refused.
KNOWN = {"events.v1": 0x09FB35BC12194C61}


def load_schemas(directory):
    """{fingerprint: schema} of every events.v<N>.avsc in directory."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.v*.avsc"))):
        with open(path, encoding="utf-8") as f:
            schema = avro.schema.parse(f.read())
        fp = fingerprint(schema)
        name = os.path.basename(path)[: -len(".avsc")]
        if KNOWN.get(name, fp) != fp:
            sys.exit(f"{path}: fingerprint {fp:016x}, sisopi's is {KNOWN[name]:016x}")
        schemas[fp] = schema
    if not schemas:
        sys.exit(f"sisopi_events: no events.v*.avsc in {directory}")
    return schemas


def decode(schemas, value):
    """Avro single-object encoding: C3 01, the fingerprint (8 bytes, little-endian), the body."""
    if value is None or len(value) < 10 or value[:2] != b"\xc3\x01":
        raise ValueError("not Avro single-object encoding")
    fp = int.from_bytes(value[2:10], "little")
    if fp not in schemas:
        raise ValueError(f"unknown schema fingerprint {fp:016x}")
    reader = avro.io.DatumReader(schemas[fp])
    return reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))


def when(dt):
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def line(msg, e):
    """One event as one line: where, when, what, whom, why."""
    out = [
        when(e["produced_at"]),
        f"{msg.partition()}@{msg.offset()}",
        f"{e['type']:<16}",
        e["record_uid"] or "-",
    ]
    for key in ("school", "role", "import_id", "cause"):
        if e[key] is not None:
            out.append(f"{key}={e[key]}")
    out.append(f"input={e['input_topic'] or '-'}[{e['input_partition']}]@{e['input_offset']}")
    if e["dn_before"] or e["dn_after"]:
        out.append(f"dn: {e['dn_before'] or '(none)'} -> {e['dn_after'] or '(none)'}")
    if e["changed"]:
        out.append("changed=" + ",".join(e["changed"]))
    if e["purge_at"] is not None:
        out.append("purge_at=" + when(e["purge_at"]))
    if e["counts"] is not None:
        out.append("counts=" + ",".join(f"{k}:{v}" for k, v in e["counts"].items()))
    if e["dry_run"]:
        out.append("dry_run")
    if e["reason"]:
        out.append(f"reason={e['reason']!r}")
    return "  ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--bootstrap", required=True, help="Kafka bootstrap servers")
    ap.add_argument("--topic", default="sisopi.events")
    ap.add_argument("--schemas", default=os.path.join(HERE, "..", "..", "schemas"))
    ap.add_argument("--follow", action="store_true", help="keep waiting for new events")
    ap.add_argument("--idle", type=float, default=10, help="seconds without a message: give up")
    args = ap.parse_args()
    schemas = load_schemas(args.schemas)

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "sisopi-example-events",  # required by the client; never joined
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )
    topic = consumer.list_topics(timeout=10).topics.get(args.topic)  # all topics: creates none
    if topic is None or topic.error is not None:
        sys.exit(f"sisopi_events: topic {args.topic} does not exist")
    parts = [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in sorted(topic.partitions)]
    # Where each partition ends now; without --follow, stop there.
    end = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
    todo = {p for p, high in end.items() if high > 0}
    consumer.assign(parts)

    bad = 0
    last = time.monotonic()
    while args.follow or todo:
        msg = consumer.poll(0.5)
        if msg is None:
            if not args.follow and time.monotonic() - last > args.idle:
                unread = ", ".join(map(str, sorted(todo)))
                sys.exit(f"sisopi_events: nothing for {args.idle:g} s; partitions {unread} unread")
            continue
        last = time.monotonic()
        if msg.error():
            raise KafkaException(msg.error())
        try:
            print(line(msg, decode(schemas, msg.value())), flush=args.follow)
        except (ValueError, EOFError, avro.errors.AvroException) as e:
            bad += 1
            print(f"{msg.partition()}@{msg.offset()}  UNDECODABLE  {e}", flush=args.follow)
        if msg.offset() + 1 >= end[msg.partition()]:
            todo.discard(msg.partition())
    consumer.close()
    if bad:
        print(f"sisopi_events: {bad} messages could not be decoded", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        sys.exit(f"sisopi_events: {e}")
