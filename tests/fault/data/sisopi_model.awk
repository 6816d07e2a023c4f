# sisopi_model.awk: what the SiSoPi rules make of a sequence of exports, computed from the
# exports alone (no directory, no broker), for tests/fault/test_crash_convergence.sh.
#
#   LC_ALL=C awk -v OUT=DIR -v LIMBO=limbo -f sisopi_model.awk PLAN
#
# PLAN holds one line per step of the sequence, tab-separated, in import order:
#   import  PHASE  SCHOOL  ROLE  FILE   one import of one school and role (FILE: the CSV,
#                                       header first, record_uid,firstname,lastname,school,
#                                       classes, one class per row without the school prefix)
#   purge   PHASE                       every person in limbo is deleted
#   end     PHASE                       the phase is over: its exists/limbo lists are written
#
# The rules (docs/reconciler.md; plan.c applies the same ones to one person at a time; a
# person's messages are in one partition, in import order, so the order of the imports is
# the order each person sees):
#   - a person that does not exist is created in the importing school: schools {S},
#     primary S, S's classes from the row;
#   - a person in limbo listed by S comes back: schools {S}, primary S, classes from this row
#     only;
#   - an active person listed by S gets S (if new), keeps its primary school; S's classes are
#     replaced by the row's;
#   - at the end of the import, every active person of that role who has S and was not listed
#     loses S and its classes there (SchoolRemoved); if S was the primary school, the
#     byte-wise first of the remaining ones becomes it; no school left: limbo (MovedToLimbo);
#   - purge: every person in limbo is deleted (Deleted); listed again later, it is a new
#     person.
#
# Writes to OUT:
#   state          RECORD_UID ROLE A|L PRIMARY SCHOOLS CLASSES (tab-separated; SCHOOLS and
#                  CLASSES space-separated and sorted, CLASSES as SCHOOL-CLASS; in limbo
#                  PRIMARY is LIMBO and SCHOOLS and CLASSES are "-"), one line per person that
#                  exists at the end
#   events         PHASE SCHOOL ROLE TYPE RECORD_UID of every SchoolRemoved and MovedToLimbo,
#                  and "PHASE - - Deleted RECORD_UID" of every purge
#   exists.PHASE   the record_uids that exist after the phase, sorted by sort(1) (the caller
#   limbo.PHASE    sorts: awk's order is not sort's)
# Exit 2 with a message on stderr on an input it does not understand.

function die(msg) {
    print "sisopi_model.awk: " msg > "/dev/stderr"
    failed = 1
    exit 2
}

# The sorted space-separated set s with x added / removed; its first element.
function set_add(s, x,    n, i, a, out, done) {
    if (s == "")
        return x
    n = split(s, a, " ")
    out = ""
    done = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == x)
            return s
        if (!done && x < a[i]) {
            out = out (out == "" ? "" : " ") x
            done = 1
        }
        out = out (out == "" ? "" : " ") a[i]
    }
    if (!done)
        out = out " " x
    return out
}

function set_del(s, x,    n, i, a, out) {
    n = split(s, a, " ")
    out = ""
    for (i = 1; i <= n; i++)
        if (a[i] != x)
            out = out (out == "" ? "" : " ") a[i]
    return out
}

function set_has(s, x) { return index(" " s " ", " " x " ") > 0 }

function set_first(s,    a) {
    split(s, a, " ")
    return a[1]
}

function do_import(ph, school, role, file,    line, f, n, rid, listed) {
    if ((getline line < file) <= 0)
        die("cannot read " file)
    if (line != "record_uid,firstname,lastname,school,classes")
        die(file ": unexpected header: " line)
    split("", listed)
    while ((getline line < file) > 0) {
        if (line ~ /"/)
            die(file ": quoted fields are not modelled: " line)
        n = split(line, f, ",")
        if (n != 5 || f[1] == "" || f[4] != school)
            die(file ": unexpected row: " line)
        if (f[5] !~ /^[A-Za-z0-9]+$/)
            die(file ": a class cell the model does not handle: " line)
        rid = f[1]
        if (rid in listed)
            die(file ": " rid " twice")
        listed[rid] = 1
        if (!(rid in EX)) {
            EX[rid] = 1
            ROLE[rid] = role
            LIM[rid] = 0
            SCH[rid] = school
            PRI[rid] = school
        } else if (ROLE[rid] != role) {
            die(file ": " rid " is a " ROLE[rid] " listed as a " role " (the reconciler refuses it)")
        } else if (LIM[rid]) {
            LIM[rid] = 0
            SCH[rid] = school
            PRI[rid] = school
        } else {
            SCH[rid] = set_add(SCH[rid], school)
        }
        CLS[rid, school] = school "-" f[5]
    }
    close(file)
    for (rid in EX) {
        if (LIM[rid] || ROLE[rid] != role || (rid in listed) || !set_has(SCH[rid], school))
            continue
        delete CLS[rid, school]
        SCH[rid] = set_del(SCH[rid], school)
        if (SCH[rid] == "") {
            LIM[rid] = 1
            PRI[rid] = LIMBO
            print ph "\t" school "\t" role "\tMovedToLimbo\t" rid > (OUT "/events")
        } else {
            if (PRI[rid] == school)
                PRI[rid] = set_first(SCH[rid])
            print ph "\t" school "\t" role "\tSchoolRemoved\t" rid > (OUT "/events")
        }
    }
}

function do_purge(ph,    rid) {
    for (rid in EX) {
        if (!LIM[rid])
            continue
        print ph "\t-\t-\tDeleted\t" rid > (OUT "/events")
        delete EX[rid]
        delete ROLE[rid]
        delete LIM[rid]
        delete SCH[rid]
        delete PRI[rid]
    }
}

function end_phase(ph,    rid, fe, fl) {
    fe = OUT "/exists." ph
    fl = OUT "/limbo." ph
    printf "" > fe
    printf "" > fl
    for (rid in EX) {
        print rid > fe
        if (LIM[rid])
            print rid > fl
    }
    close(fe)
    close(fl)
}

BEGIN {
    FS = "\t"
    if (OUT == "" || LIMBO == "")
        die("set OUT and LIMBO")
    printf "" > (OUT "/events")
}

$1 == "import" && NF == 5 { do_import($2, $3, $4, $5); next }
$1 == "purge" && NF == 2 { do_purge($2); next }
$1 == "end" && NF == 2 { end_phase($2); next }
{ die("bad plan line: " $0) }

END {
    if (failed)
        exit 2
    out = OUT "/state"
    printf "" > out
    for (rid in EX) {
        if (LIM[rid]) {
            print rid "\t" ROLE[rid] "\tL\t" LIMBO "\t-\t-" > out
            continue
        }
        n = split(SCH[rid], a, " ")
        cls = ""
        for (i = 1; i <= n; i++)
            if ((rid, a[i]) in CLS)
                cls = set_add(cls, CLS[rid, a[i]])
        print rid "\t" ROLE[rid] "\tA\t" PRI[rid] "\t" SCH[rid] "\t" (cls == "" ? "-" : cls) > out
    }
    close(out)
}
