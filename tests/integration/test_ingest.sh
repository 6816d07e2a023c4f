#!/usr/bin/env bash
# sisopi-ingest against the devbroker: what lands on sisopi.users, read back with our decoder
# (sisopi-audit dump): keys, partitions, field values, one ImportEnd per partition with the
# right counts; bad files and 0-byte files publish nothing; header-only files publish only
# markers, loudly; dialects, passwords, dry runs, a wrong partition count, an unreachable
# broker, and --watch (with the tolerated bad rows in the .report).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INGEST=$SISOPI_BUILD/services/sisopi-ingest
AUDIT=$SISOPI_BUILD/services/sisopi-audit
PART=$SISOPI_BUILD/tests/sisopi_partition
EX=$SISOPI_SRC/examples
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

step "start the stack"
start_stack --schools "Gym1 Schule2"
CFG=$STACK_DIR/sisopi.cfg
W=$STACK_DIR/work
mkdir -p "$W"

# dump: sisopi.users decoded, one JSON object a line, sorted by partition and offset.
dump() { "$AUDIT" -c "$CFG" dump --topic users 2>/dev/null | jq -c -s 'sort_by(.partition, .offset) | .[]'; }
count() { dump | wc -l; }
import_id_of() { sed -n 's/^import_id: *//p' <<<"$1"; }

step "ingest a school's students"
assert_rc 0 "ingest Gym1 students" "$INGEST" -c "$CFG" -q --school Gym1 --role student "$EX/Gym1-student.csv"
ID=$(import_id_of "$OUT")
[[ $ID =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "no UUIDv7 import_id in: $OUT"
assert_contains "$OUT" "6 records and 12 end markers" "summary"
D=$(dump)
assert_eq 18 "$(wc -l <<<"$D")" "6 records + 12 markers on the topic"

step "records: keyed by record_uid, in the key's murmur2 partition"
recs=$(jq -c 'select(.message.type=="UserRecord")' <<<"$D")
assert_eq 6 "$(wc -l <<<"$recs")" "one UserRecord per row"
while IFS=$'\t' read -r key part uid iid; do
    assert_eq "$uid" "$key" "message key is the record_uid"
    assert_eq "$("$PART" 12 "$key")" "$part" "partition of $key"
    assert_eq "$ID" "$iid" "import_id of $key"
done < <(jq -r '[.key, .partition, .message.record_uid, .message.import_id] | @tsv' <<<"$recs")
assert_eq "S-1001 S-1002 S-1003 S-1004 S-1005 S-1006" "$(jq -r .key <<<"$recs" | sort | xargs)" "record_uids"

step "records: field values"
r=$(jq -c 'select(.key=="S-1004") | .message' <<<"$recs")
assert_eq '"Łukasz"' "$(jq .firstname <<<"$r")" "UTF-8 firstname"
assert_eq '"Wiśniewski"' "$(jq .lastname <<<"$r")" "UTF-8 lastname"
assert_eq '["Gym1-5b","Gym1-AG-Chor"]' "$(jq -c .classes <<<"$r")" "classes with and without prefix"
assert_eq '"2013-05-23"' "$(jq .birthday <<<"$r")" "birthday mm/dd/yyyy"
assert_eq '"Gym1"' "$(jq .school <<<"$r")" "school"
assert_eq '"student"' "$(jq .role <<<"$r")" "role"
assert_eq '"sisopi-demo"' "$(jq .source_uid <<<"$r")" "source_uid from the config"
assert_eq 5 "$(jq .line <<<"$r")" "input line"
assert_eq false "$(jq .dry_run <<<"$r")" "not a dry run"
r=$(jq -c 'select(.key=="S-1002") | .message' <<<"$recs")
assert_eq '"2013-11-12"' "$(jq .birthday <<<"$r")" "birthday dd.mm.yyyy"
assert_eq '"Jörg"' "$(jq .firstname <<<"$r")" "umlaut kept in the name"
r=$(jq -c 'select(.key=="S-1006") | .message' <<<"$recs")
assert_eq '"Schmidt, jun."' "$(jq .lastname <<<"$r")" "quoted field with the delimiter"

step "end markers: one per partition, counts matching the records"
ends=$(jq -c 'select(.message.type=="ImportEnd")' <<<"$D")
assert_eq "0 1 2 3 4 5 6 7 8 9 10 11" "$(jq -r .partition <<<"$ends" | sort -n | xargs)" "one marker in every partition"
for p in $(seq 0 11); do
    e=$(jq -c "select(.partition==$p) | .message" <<<"$ends")
    want=$(jq -r "select(.partition==$p) | .key" <<<"$recs" | wc -l)
    assert_eq "$want" "$(jq .record_count <<<"$e")" "record_count of partition $p"
    assert_eq "$p" "$(jq .partition <<<"$e")" "partition field of marker $p"
    first=$(jq -r "select(.partition==$p) | .offset" <<<"$recs" | sort -n | head -1)
    assert_eq "${first:--1}" "$(jq .first_offset <<<"$e")" "first_offset of partition $p"
    assert_eq 6 "$(jq .total_records <<<"$e")" "total_records"
    assert_eq "\"$ID\"" "$(jq .import_id <<<"$e")" "marker import_id"
    assert_eq '"Gym1"' "$(jq .school <<<"$e")" "marker school"
done
# Every marker comes after every record of its partition.
for p in $(seq 0 11); do
    last_rec=$(jq -r "select(.partition==$p and .message.type==\"UserRecord\") | .offset" <<<"$D" | sort -n | tail -1)
    end_off=$(jq -r "select(.partition==$p) | .offset" <<<"$ends")
    [[ -z $last_rec || $last_rec -lt $end_off ]] || fail "marker of partition $p precedes a record"
done

step "kcat sees the same messages, keyed by record_uid"
kc=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -e -q -f '%k\n' | sort)
assert_eq "$(jq -r .key <<<"$D" | sort)" "$kc" "kcat keys"

step "a bad file: every bad line reported, nothing published"
before=$(count)
assert_rc 1 "bad file fails" "$INGEST" -c "$CFG" -q --school Gym1 --role student "$EX/bad-student.csv"
assert_contains "$OUT" "bad-student.csv:3:1: column \"record_uid\"" "missing record_uid, with line and column"
assert_contains "$OUT" "bad-student.csv:4:1: column \"record_uid\": record_uid \"S-9001\": duplicate" "duplicate record_uid"
assert_contains "$OUT" "bad-student.csv:5:4: column \"school\"" "wrong school"
assert_contains "$OUT" "bad-student.csv:6:7: column \"birthday\"" "bad birthday"
assert_contains "$OUT" "bad-student.csv:7:6: column \"email\"" "bad email"
assert_contains "$OUT" "bad-student.csv:8:" "too many fields"
assert_contains "$OUT" "nothing was published" "says nothing was published"
assert_eq "$before" "$(count)" "no message published by a bad file"

step "tolerated errors: exit 2, the good rows published"
sed 's/tolerate_errors = 0;/tolerate_errors = 10;/' "$CFG" >"$W/tolerant.cfg"
assert_rc 2 "tolerated bad rows" "$INGEST" -c "$W/tolerant.cfg" -q --school Gym1 --role student "$EX/bad-student.csv"
assert_contains "$OUT" "1 valid, 6 bad" "summary counts"
assert_eq $((before + 1 + 12)) "$(count)" "one record and the markers"
# The summary alone (stdout) tells the tolerated errors, each with its line and why.
summary=$("$INGEST" -c "$W/tolerant.cfg" -q --check --school Gym1 --role student "$EX/bad-student.csv" 2>/dev/null) || true
assert_contains "$summary" $'\nErrors: 6\n' "the summary counts the tolerated errors"
assert_contains "$summary" "  $EX/bad-student.csv:3:1: column \"record_uid\": record_uid is empty" "summary: line 3"
assert_contains "$summary" "bad-student.csv:6:7: column \"birthday\": record_uid \"S-9004\": birthday" "summary: line 6"
assert_contains "$summary" "bad-student.csv:8: the row has 8 fields" "summary: line 8"
# The bad rows' persons are listed by the school: the markers say so, so that the reconciler
# keeps them as they are instead of taking the school away (the reference's quirk).
tid=$(import_id_of "$OUT")
kept=$(dump | jq -c "select(.message.import_id==\"$tid\" and .message.type==\"ImportEnd\")")
for uid in S-9003 S-9004 S-9005; do
    p=$("$PART" 12 "$uid")
    assert_eq "$uid" "$(jq -r "select(.partition==$p) | .message.kept_record_uids[]" <<<"$kept" | grep -x "$uid")" \
        "bad row $uid kept on the marker of its partition $p"
done
# Exactly the bad rows whose record_uid could be read: not the empty one (line 3), not the row
# with a wrong field count (line 8, whose columns cannot be trusted); S-9001 twice is harmless.
assert_eq "S-9001 S-9003 S-9004 S-9005" "$(jq -r '.message.kept_record_uids[]' <<<"$kept" | sort | xargs)" \
    "the kept record_uids"

step "a file without even a header (0 bytes) is refused: it lacks the mandatory columns"
: >"$W/empty.csv"
before=$(count)
assert_rc 1 "0-byte file" "$INGEST" -c "$CFG" -q --school Schule2 --role teacher "$W/empty.csv"
assert_contains "$OUT" "$W/empty.csv: the file is empty: it has no header row" "error names the file"
assert_contains "$OUT" "(record_uid)" "error names the mandatory columns"
assert_contains "$OUT" "published:  FAILED" "the summary says it failed"
assert_eq "$before" "$(count)" "0-byte file: nothing published"

step "header-only files (blank lines, rows of delimiters): only markers, and a loud warning"
head -n 1 "$EX/Gym1-student.csv" >"$W/header.csv"
{ cat "$W/header.csv"; printf '\n,,,,,,\n\n'; } >"$W/header_blank.csv"
for f in header header_blank; do
    before=$(count)
    assert_rc 0 "$f file" "$INGEST" -c "$CFG" -q --school Schule2 --role teacher "$W/$f.csv"
    assert_contains "$OUT" "WARNING: the file holds no records" "$f: warning"
    assert_contains "$OUT" "every such person" "$f: says what it means"
    assert_eq $((before + 12)) "$(count)" "$f: 12 markers, no records"
    iid=$(import_id_of "$OUT")
    assert_eq 0 "$(dump | jq -r "select(.message.import_id==\"$iid\") | .message.total_records" | sort -u)" "$f: markers count 0"
done

step "Latin-1, semicolons, a CSV password (hashed); a dry run publishes nothing"
sed 's/\[ "birthday", "birthday" \]/[ "birthday", "birthday" ],\n      [ "Passwort", "password" ]/; s/allowed_missing_columns = \[/allowed_missing_columns = [ "Passwort", /' "$CFG" >"$W/pw.cfg"
printf 'record_uid;firstname;lastname;school;classes;Passwort\nL-1;J\xfcrgen;Gro\xdf;Schule2;7c;Geheimnis-12345678\n' >"$W/latin1.csv"
before=$(count)
assert_rc 0 "latin-1 file, dry run" "$INGEST" -c "$W/pw.cfg" -q --dry-run --school Schule2 --role student "$W/latin1.csv"
assert_eq "$before" "$(count)" "messages on sisopi.users after a dry run"
assert_contains "$OUT" "published:  nothing (--dry-run)" "the dry run says it published nothing"
assert_contains "$OUT" "$(printf '  Created\tL-1\t')" "the dry run plans the creation"
assert_contains "$OUT" "would:      1 created, 0 modified, 0 unchanged" "the dry run's totals"
assert_rc 0 "latin-1 file" "$INGEST" -c "$W/pw.cfg" -q --school Schule2 --role student "$W/latin1.csv"
assert_contains "$OUT" "ISO-8859-1" "encoding detected"
assert_contains "$OUT" "delimiter ';'" "delimiter detected"
r=$(dump | jq -c 'select(.key=="L-1") | .message')
assert_eq '"Jürgen"' "$(jq .firstname <<<"$r")" "Latin-1 converted to UTF-8"
assert_eq '"Groß"' "$(jq .lastname <<<"$r")" "ß converted"
assert_eq false "$(jq .dry_run <<<"$r")" "not a dry run"
assert_eq '"(redacted)"' "$(jq .password_hash <<<"$r")" "the dump never shows a password hash"
# The raw bytes of the whole topic (Avro lengths may be newline bytes: no line-wise grep).
raw=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -e -q -f '%s' | tr '\0\n' '  ')
assert_not_contains "$raw" "Geheimnis" "no plaintext password on the topic"
# shellcheck disable=SC2016 # a literal dollar sign: the hash's prefix
assert_contains "$raw" '{CRYPT}$6$' "a SHA-512 crypt hash on the topic"
# Windows-1252 (0x93/0x94: curly quotes) is refused before the delimiter is looked for; the
# summary says so instead of printing a placeholder delimiter.
printf 'record_uid;firstname;lastname;school;classes\nW-1;\x93Jo\x94;Doe;Schule2;7c\n' >"$W/cp1252.csv"
assert_rc 1 "windows-1252 file" "$INGEST" -c "$CFG" -q --school Schule2 --role student "$W/cp1252.csv"
assert_contains "$OUT" "delimiter not determined" "the summary does not invent a delimiter"
assert_not_contains "$OUT" "delimiter '?'" "no placeholder delimiter"
assert_contains "$OUT" "import.csv.encoding" "the refusal names the setting that would read it"
# Declared in the config (import.csv.encoding), the same file is read in Windows-1252.
sed 's|^    # The column names of the files in examples/.|    encoding = "WINDOWS-1252";\n&|' "$CFG" >"$W/cp1252.cfg"
grep -q 'encoding = "WINDOWS-1252";' "$W/cp1252.cfg" || fail "cp1252.cfg was not made"
assert_rc 0 "windows-1252 file, declared" "$INGEST" -c "$W/cp1252.cfg" -q --school Schule2 --role student "$W/cp1252.csv"
assert_contains "$OUT" "(WINDOWS-1252, delimiter ';')" "the summary names the declared encoding"
assert_eq '"“Jo”"' "$(dump | jq -c 'select(.key=="W-1") | .message.firstname')" "curly quotes converted"

step "--check publishes nothing"
before=$(count)
assert_rc 0 "check only" "$INGEST" -c "$CFG" -q --check --school Gym1 --role student "$EX/Gym1-student.csv"
assert_contains "$OUT" "published:  nothing (--check)" "check summary"
assert_eq "$before" "$(count)" "nothing published by --check"

step "job errors: limbo as school, unknown role, no source_uid"
assert_rc 64 "limbo school" "$INGEST" -c "$CFG" --school limbo --role student "$EX/Gym1-student.csv"
assert_contains "$OUT" "is the limbo OU" "limbo refused"
assert_rc 64 "bad role" "$INGEST" -c "$CFG" --school Gym1 --role pupil 2>/dev/null
assert_rc 64 "bad role value (a usage error)" "$INGEST" -c "$CFG" --school Gym1 --role pupil "$EX/Gym1-student.csv"
assert_contains "$OUT" "must be student, teacher, staff or teacher_and_staff" "role refused"
sed 's/source_uid = "sisopi-demo";/source_uid = "";/' "$CFG" >"$W/nosid.cfg"
assert_rc 1 "no source_uid" "$INGEST" -c "$W/nosid.cfg" --school Gym1 --role student "$EX/Gym1-student.csv"
assert_contains "$OUT" "no source_uid" "source_uid demanded"
assert_rc 0 "--source-uid given" "$INGEST" -c "$W/nosid.cfg" -q --check --source-uid other --school Gym1 --role student "$EX/Gym1-student.csv"

step "a partition count that differs from the config: refused before publishing"
before=$(count)
sed 's/partitions = 12;/partitions = 6;/' "$CFG" >"$W/p6.cfg"
assert_rc 1 "partition mismatch" "$INGEST" -c "$W/p6.cfg" -q --school Gym1 --role student "$EX/Gym1-student.csv"
assert_contains "$OUT" "has 12 partitions but" "mismatch explained"
assert_eq "$before" "$(count)" "nothing published on a mismatch"

step "an unreachable broker: fails loudly, in bounded time"
start=$SECONDS
assert_rc 1 "no broker" timeout 60 "$INGEST" -c "$CFG" -q --bootstrap 127.0.0.1:1 --school Gym1 --role student "$EX/Gym1-student.csv"
assert_contains "$OUT" "cannot read the cluster's metadata" "broker error explained"
((SECONDS - start < 40)) || fail "took $((SECONDS - start)) s to give up"

step "--watch: files dropped per school and role, filed under done/ and failed/"
DROP=$W/drop
mkdir -p "$DROP/Gym1" "$DROP/Schule2" "$DROP/limbo"
cp "$EX/Gym1-teacher.csv" "$DROP/Gym1/.teacher.csv" && mv "$DROP/Gym1/.teacher.csv" "$DROP/Gym1/teacher-2026.csv"
cp "$EX/Schule2-student.csv" "$DROP/Schule2/student.csv"
cp "$EX/bad-student.csv" "$DROP/Gym1/student.csv"
cp "$EX/Schule2-student.csv" "$DROP/limbo/student.csv"
echo "ignored" >"$DROP/Gym1/notes.txt"
touch -d '-10 seconds' "$DROP"/*/*.csv
assert_rc 1 "watch a directory that does not exist" "$INGEST" -c "$CFG" -q --watch "$W/nope" --once
assert_contains "$OUT" "--watch $W/nope: No such file or directory" "the error names the directory"
assert_rc 1 "watch --once (one failed file)" timeout 120 "$INGEST" -c "$CFG" -q --watch "$DROP" --once
assert_eq 2 "$(find "$DROP/done" -name '*.csv' | wc -l)" "two files done"
assert_eq 2 "$(find "$DROP/failed" -name '*.csv' | wc -l)" "two files failed"
assert_eq 4 "$(find "$DROP/done" "$DROP/failed" -name '*.report' | wc -l)" "a report beside each"
assert_eq "" "$(find "$DROP/Gym1" "$DROP/Schule2" "$DROP/limbo" -name '*.csv')" "nothing left to import"
[[ -f $DROP/Gym1/notes.txt ]] || fail "a non-CSV file was touched"
rep=$(cat "$DROP"/failed/Gym1/*-student.report)
assert_contains "$rep" ":4:1: column \"record_uid\"" "failed report lists the bad lines"
rep=$(cat "$DROP"/failed/limbo/*-student.report)
assert_contains "$rep" "limbo OU" "limbo drop refused"
rep=$(cat "$DROP"/done/Gym1/*-teacher-*.report)
assert_contains "$rep" $'\nErrors: 0' "a clean import says so"

step "--watch: tolerated bad rows are in the .report, each once, with its line"
DROP2=$W/drop2
mkdir -p "$DROP2/Gym1"
cp "$EX/bad-student.csv" "$DROP2/Gym1/student.csv"
touch -d '-10 seconds' "$DROP2/Gym1/student.csv"
# output.report_dir: the reports go there (REPORT_DIR/done/<school>/), not beside the file.
sed 's|^  log_level = "info";|&\n  report_dir = "'"$W/reports"'";|' "$W/tolerant.cfg" >"$W/reports.cfg"
grep -q "report_dir = \"$W/reports\"" "$W/reports.cfg" || fail "reports.cfg: $(cat "$W/reports.cfg")"
assert_rc 2 "watch --once (tolerated errors)" timeout 120 "$INGEST" -c "$W/reports.cfg" -q --watch "$DROP2" --once
assert_eq "" "$(find "$DROP2/done" -name '*.report')" "no report beside the file with output.report_dir"
[[ $(find "$W/reports/done/Gym1" -name '*-student-*.report' | wc -l) == 1 ]] ||
    fail "no report in output.report_dir: $(find "$W/reports" 2>&1)"
rep=$(cat "$W"/reports/done/Gym1/*-student-*.report)
assert_contains "$rep" $'\nErrors: 6\n' "the report counts the tolerated errors"
assert_contains "$rep" "  $DROP2/Gym1/student.csv:3:1: column \"record_uid\": record_uid is empty" "report: line 3"
assert_contains "$rep" "student.csv:7:6: column \"email\": record_uid \"S-9005\": email" "report: line 7"
assert_eq 1 "$(grep -c ':7:6: column' <<<"$rep")" "each bad row once in the report"
done_t=$(ls "$DROP"/done/Gym1/*-teacher-*.csv)
tid=$(sed -n 's/^import_id: *//p' "${done_t%.csv}.report")
[[ $done_t == *"$tid.csv" ]] || fail "done file name does not carry the import_id $tid: $done_t"
assert_eq 2 "$(dump | jq -r "select(.message.import_id==\"$tid\" and .message.type==\"UserRecord\") | .key" | wc -l)" "teachers published"
