# crash_sequence.awk: the data set of tests/fault/test_crash_convergence.sh. Writes the export
# (CSV, header first) of one school and role at one step of the sequence:
#
#   awk -v NS=700 -v NT=60 -v STEP=3 -v SCHOOL=SchB -v ROLE=student -f crash_sequence.awk
#
# NS students per school (SchA..SchD), NT teachers per school (SchA, SchB). Steps 1..6; the
# test purges (scheduler) between steps 5 and 6. Fixed data: the seed of the test drives the
# kills, never the data. Every person has its own lastname, so its username base
# (<firstname>[0].<lastname>) is its own: no two persons ever take the same counter, whatever
# the order of the partitions (only the run-to-run difference a crash makes to a counter is
# left, see the test).
#
# Student S<i>: home school h = i % 4, category c = int(i / 4) % 10; "h+1" is the next school.
#   c=0  spans: h from step 1, h and h+1 from step 2                       (SchoolAdded)
#   c=1  changes school B-first: h, h and h+1 at 2, h+1 only from 3      (SchoolRemoved, move)
#   c=2  leaves at 3 (limbo), purged; every fifth block of 40 (i/40 % 5 == 0) is listed again
#        by h at step 6: a new account after the purge                   (MovedToLimbo, Deleted)
#   c=3  changes school A-first: h, nobody at 3 (limbo), h+2 from 4       (Reactivated)
#   c=4  class change at step 3 (the home school's class goes one grade up)
#   c=5  lastname change at step 4                                        (Modified)
#   c=6  leaves at 6: in limbo at the end, with its purge date
#   c=7  spans three schools from 2 (h, h+1, h+2); h drops it at 6: the primary moves
#   c=8  half of them (i/40 odd: stay) leave at 5: limbo, purged
#   c=9  stays as it is
# Teacher T<j>: home school SchA/SchB = j % 2, category t = int(j / 2) % 5:
#   t=0 stays; t=1 spans both from 2; t=2 leaves at 3 (purged); t=3 leaves at 5 (purged);
#   t=4 is new at 4.

function letters(n,    s) {
    s = ""
    do {
        s = substr("abcdefghijklmnopqrstuvwxyz", n % 26 + 1, 1) s
        n = int(n / 26)
    } while (n > 0)
    return s
}

function school(x) { return SCH[x % 4] }

# Sets L[0..n-1] to the schools (indexes) listing student i at STEP; returns n.
function student_schools(i,    h, c, blk, n) {
    h = i % 4; c = int(i / 4) % 10; blk = int(i / 40) % 5; n = 0
    if (c == 0) { L[n++] = h; if (STEP >= 2) L[n++] = h + 1 }
    else if (c == 1) { if (STEP <= 2) L[n++] = h; if (STEP >= 2) L[n++] = h + 1 }
    else if (c == 2) { if (STEP <= 2 || (STEP >= 6 && blk == 0)) L[n++] = h }
    else if (c == 3) { if (STEP <= 2) L[n++] = h; else if (STEP >= 4) L[n++] = h + 2 }
    else if (c == 6) { if (STEP <= 5) L[n++] = h }
    else if (c == 7) { if (STEP <= 5) L[n++] = h; if (STEP >= 2) { L[n++] = h + 1; L[n++] = h + 2 } }
    else if (c == 8) { if (STEP <= 4 || blk % 2 == 1) L[n++] = h }
    else L[n++] = h
    return n
}

function teacher_schools(j,    h, t, n) {
    h = j % 2; t = int(j / 2) % 5; n = 0
    if (t == 0) L[n++] = h
    else if (t == 1) { L[n++] = h; if (STEP >= 2) L[n++] = 1 - h }
    else if (t == 2) { if (STEP <= 2) L[n++] = h }
    else if (t == 3) { if (STEP <= 4) L[n++] = h }
    else if (t == 4) { if (STEP >= 4) L[n++] = h }
    return n
}

function listed(n,    x) {
    for (x = 0; x < n; x++)
        if (school(L[x]) == SCHOOL)
            return 1
    return 0
}

BEGIN {
    split("SchA SchB SchC SchD", t, " ")
    for (x = 0; x < 4; x++) { SCH[x] = t[x + 1]; IDX[t[x + 1]] = x }
    split("Anna Bert Cora Dirk Emil Fritz Gina Hugo Ida Jan Kai Lena Mia Nils Olga Paul Rosa Sven Tina Uwe", F, " ")
    if (!(SCHOOL in IDX) || (ROLE != "student" && ROLE != "teacher") || STEP < 1 || STEP > 6) {
        print "crash_sequence.awk: bad SCHOOL, ROLE or STEP" > "/dev/stderr"
        exit 2
    }
    s = IDX[SCHOOL]
    print "record_uid,firstname,lastname,school,classes"
    if (ROLE == "student") {
        for (i = 0; i < 4 * NS; i++) {
            if (!listed(student_schools(i)))
                continue
            c = int(i / 4) % 10
            grade = 5 + (i + s) % 6
            if (c == 4 && STEP >= 3 && s == i % 4)
                grade++
            last = "N" letters(i)
            if (c == 5 && STEP >= 4)
                last = last "x"
            printf "S%05d,%s,%s,%s,%d%s\n", i, F[i % 20 + 1], last, SCHOOL, grade,
                substr("abc", int(i / 7) % 3 + 1, 1)
        }
    } else if (s < 2) {
        for (j = 0; j < 2 * NT; j++) {
            if (!listed(teacher_schools(j)))
                continue
            printf "T%04d,%s,T%s,%s,%da\n", j, F[(j * 7) % 20 + 1], letters(j + 1000), SCHOOL,
                5 + j % 6
        }
    }
}
