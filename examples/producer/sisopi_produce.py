#!/usr/bin/python3
"""Publish one import (one school, one role) to sisopi.users, as a source database would.

Uses only Debian's python3-avro and python3-confluent-kafka and the files in schemas/.
Writes every person as a UserRecord, waits until the broker has acknowledged all of them,
then writes one ImportEnd to every partition with that partition's count. See README.md.
"""
import argparse
import collections
import csv
import datetime
import io
import os
import re
import sys
import time
import uuid

import avro.io
import avro.schema
from confluent_kafka import KafkaException, Producer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from sisopi_fingerprint import fingerprint  # noqa: E402 (beside the examples)
SCHEMA_FILE = os.path.join(HERE, "..", "..", "schemas", "users.v2.avsc")
# The fingerprint sisopi uses for users.v2 (schemas/README.md); checked at start.
USERS_V2_FINGERPRINT = 0xF5659E0C01ECDE51
ROLES = ("student", "teacher", "staff", "teacher_and_staff")

# ---- Framing: Avro single-object encoding -------------------------------------------------
def encode(schema, fp, datum):
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + fp.to_bytes(8, "little"))
    avro.io.DatumWriter(schema).write({"body": datum}, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def uuid7():
    """A UUIDv7 (time-ordered), as sisopi-ingest makes its import ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))


# ---- Persons ------------------------------------------------------------------------------
def person(school, fields, line):
    """fields: record_uid, firstname, lastname, and optionally classes, email, birthday."""
    uid, first, last = (
        (fields.get(k) or "").strip() for k in ("record_uid", "firstname", "lastname")
    )
    where = f"line {line}" if line else "--person"
    if not (uid and first and last):
        raise ValueError(f"{where}: record_uid, firstname and lastname are mandatory")
    if (fields.get("school") or school).strip().lower() != school.lower():
        raise ValueError(f"{where}: {uid} is listed for school {fields['school']}")
    birthday = (fields.get("birthday") or "").strip() or None
    if birthday and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", birthday):
        raise ValueError(f"{where}: {uid}: birthday {birthday!r} is not yyyy-mm-dd")
    classes = None  # no class column: the person's classes stay as they are
    if "classes" in fields:
        names = [c.strip() for c in re.split(r"[,\s]+", fields["classes"] or "") if c.strip()]
        classes = sorted({c if c.startswith(school + "-") else f"{school}-{c}" for c in names})
    email = fields.get("email")
    return {
        "record_uid": uid,
        "firstname": first,
        "lastname": last,
        "username": None,  # sisopi derives it from its naming scheme
        "email": email.strip() if email else None,
        "birthday": birthday,
        "password_hash": None,  # never a plaintext password; none here
        "classes": classes,
        "extra": [],
        "line": line,
        "dry_run": False,
    }


def read_persons(args):
    persons = []
    if args.csv:
        with open(args.csv, newline="", encoding="utf-8-sig") as f:
            sample = f.read(4096)
            f.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            rows = csv.DictReader(f, dialect=dialect)
            for row in rows:
                persons.append(person(args.school, row, rows.line_num))
    for spec in args.person:
        if spec.count(",") < 2:
            raise ValueError(f"--person {spec!r}: give at least UID,FIRST,LAST")
        uid, first, last, *classes = spec.split(",")
        fields = {"record_uid": uid, "firstname": first, "lastname": last}
        if classes:
            fields["classes"] = " ".join(classes)
        persons.append(person(args.school, fields, 0))
    uids = collections.Counter(p["record_uid"].lower() for p in persons)
    dups = sorted(u for u, n in uids.items() if n > 1)
    if dups:
        raise ValueError("duplicate record_uid: " + ", ".join(dups))
    return persons


# ---- Publishing ---------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--bootstrap", required=True, help="Kafka bootstrap servers")
    ap.add_argument("--topic", default="sisopi.users")
    ap.add_argument("--school", required=True, help="the school (OU name) the import is for")
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("--source-uid", required=True, help="the source database's identifier")
    ap.add_argument("--csv", help="a CSV export (record_uid,firstname,lastname[,classes,...])")
    ap.add_argument(
        "--person",
        action="append",
        default=[],
        metavar="UID,FIRST,LAST[,CLASS...]",
        help="a person inline (repeatable)",
    )
    args = ap.parse_args()

    with open(SCHEMA_FILE, encoding="utf-8") as f:
        schema = avro.schema.parse(f.read())
    fp = fingerprint(schema)
    if fp != USERS_V2_FINGERPRINT:
        sys.exit(f"users.v2 fingerprint {fp:016x}, expected {USERS_V2_FINGERPRINT:016x}")
    try:
        persons = read_persons(args)
    except (OSError, ValueError, csv.Error) as e:
        sys.exit(f"sisopi_produce: {e}")

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,  # acks=all, no duplicates, no reordering
            "partitioner": "murmur2_random",  # Kafka's Java default for keyed messages
        }
    )
    topic = producer.list_topics(timeout=10).topics.get(args.topic)  # all topics: creates none
    if topic is None or topic.error is not None:
        sys.exit(f"sisopi_produce: topic {args.topic} does not exist")
    partitions = len(topic.partitions)

    import_id = uuid7()
    counts = collections.Counter()  # acknowledged records per partition
    first_offset = {}  # the first record's offset per partition
    errors = []

    def record_delivered(err, msg):
        if err is not None:
            errors.append(err)
        else:
            p = msg.partition()
            counts[p] += 1
            first_offset[p] = min(msg.offset(), first_offset.get(p, msg.offset()))

    for p in persons:
        record = dict(p, import_id=import_id, source_uid=args.source_uid)
        record.update(school=args.school, role=args.role)
        value = encode(schema, fp, record)
        producer.produce(args.topic, value, p["record_uid"], on_delivery=record_delivered)
        producer.poll(0)
    if producer.flush(60) or errors or sum(counts.values()) != len(persons):
        sys.exit(f"sisopi_produce: records not delivered {errors[:1]}; no end markers were sent")

    now = datetime.datetime.now(datetime.timezone.utc)
    for p in range(partitions):
        end = {
            "import_id": import_id,
            "source_uid": args.source_uid,
            "school": args.school,
            "role": args.role,
            "produced_at": now,
            "record_count": counts[p],
            "first_offset": first_offset.get(p, -1),
            "partition": p,
            "partition_count": partitions,
            "total_records": len(persons),
            "kept_record_uids": [],
            "dry_run": False,
            "guard": None,  # no decision: each partition checks its own part (README.md)
        }
        producer.produce(
            args.topic, encode(schema, fp, end), import_id, partition=p,
            on_delivery=lambda err, msg: errors.append(err) if err else None,
        )
    if producer.flush(60) or errors:
        sys.exit(f"sisopi_produce: end markers not delivered {errors[:1]}: import it again")
    print(f"import_id: {import_id}")
    print(f"published: {len(persons)} records and {partitions} end markers to {args.topic}")


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        sys.exit(f"sisopi_produce: {e}")
