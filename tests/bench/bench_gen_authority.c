/*
 * bench_gen_authority: a whole school authority as its source database exports it, for the
 * authority benchmark (bench_authority.sh): N persons over S schools, one CSV per school and
 * role, and with --night the files of the next night, after some persons changed, moved or
 * left. Deterministic for a seed: the night is the same authority with changes drawn from a
 * second random stream, so both modes agree on everyone who did not change.
 *
 *   bench_gen_authority [--persons N] [--schools S] [--seed X] [--night] OUTDIR
 *
 * OUTDIR/<school>/<role>.csv is the drop-directory layout of `sisopi-ingest --watch`;
 * OUTDIR/manifest.txt says what was written, what the reconciler should report, and the order
 * in which to import the files (see write_manifest).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Shares of the authority: per mille, so that small authorities round sensibly. */
#define TEACHER_PERMILLE    120
#define STAFF_PERMILLE      30
#define DUAL_PERMILLE       50
#define CLASS_SIZE          25
#define MAX_TEACHER_CLASSES 4
/* The night, per hundred thousand persons. */
#define CHANGED_PER_100K 1000
#define MOVED_PER_100K   500
#define GONE_PER_100K    200
/* The reconciler holds an import that removes more than 20 % of a school's role (the default
 * deletion guard): no school/role group loses more than this share in one night. */
#define MAX_LOSS_PERCENT 10

enum role { ROLE_STUDENT, ROLE_TEACHER, ROLE_STAFF, ROLE_COUNT };
static const char *const role_name[ROLE_COUNT] = {"student", "teacher", "staff"};

/* Names as a German school authority's register has them, with their frequencies roughly in
 * order: German, Turkish and Polish, with umlauts and other diacritics (the username scheme
 * folds them, so "Müller" and "Muller" collide, as do all the initials) and a long tail. */
static const char *const first_names[] = {
    "Marie",  "Sophie",  "Maximilian", "Mia",        "Ben",       "Emma",     "Paul",
    "Hannah", "Mehmet",  "Leon",       "Zeynep",     "Anna",      "Jonas",    "Elif",
    "Emilia", "Lukas",   "Lena",       "Finn",       "Łukasz",    "Lea",      "Felix",
    "Ayşe",   "Noah",    "Leonie",     "Elias",      "Katarzyna", "Luis",     "Emre",
    "Clara",  "Moritz",  "Johanna",    "Yusuf",      "Jakob",     "Greta",    "Ömer",
    "Anton",  "Lina",    "Piotr",      "Charlotte",  "Ahmet",     "Theo",     "Zoë",
    "Jürgen", "Fatma",   "Matthias",   "Małgorzata", "Emil",      "Merve",    "Can",
    "Luisa",  "Jörg",    "Michał",     "Paula",      "Hüseyin",   "Björn",    "Agnieszka",
    "Henry",  "Büşra",   "Sören",      "Tomasz",     "Ella",      "Mustafa",  "Krzysztof",
    "Chloé",  "Burak",   "Zofia",      "Luca",       "Esra",      "Wojciech", "Jan",
    "Çağla",  "Paweł",   "Ole",        "Gül",        "Grzegorz",  "İbrahim",  "Jędrzej",
    "Żaneta", "Günther", "Ilse"};
static const char *const last_names[] = {
    "Müller",      "Schmidt",  "Yılmaz",     "Schneider",    "Nowak",       "Fischer",
    "Kaya",        "Weber",    "Meyer",      "Kowalski",     "Wagner",      "Demir",
    "Becker",      "Schulz",   "Wiśniewski", "Hoffmann",     "Şahin",       "Schäfer",
    "Koch",        "Çelik",    "Bauer",      "Wójcik",       "Richter",     "Yıldız",
    "Klein",       "Wolf",     "Kowalczyk",  "Schröder",     "Öztürk",      "Neumann",
    "Schwarz",     "Kamiński", "Zimmermann", "Aydın",        "Braun",       "Krüger",
    "Lewandowski", "Hofmann",  "Özdemir",    "Hartmann",     "Lange",       "Zieliński",
    "Schmitt",     "Arslan",   "Werner",     "Schmitz",      "Szymański",   "Krause",
    "Doğan",       "Meier",    "Woźniak",    "Lehmann",      "Kılıç",       "Schmid",
    "Dąbrowski",   "Köhler",   "Aslan",      "Herrmann",     "Kozłowski",   "König",
    "Çetin",       "Walter",   "Jankowski",  "Groß",         "Kara",        "Weiß",
    "Mazur",       "Jäger",    "Koç",        "Bohnenkämper", "Kwiatkowski", "Heuelmann",
    "Kurt",        "Möller",   "Krawczyk",   "Böhm",         "Özkan",       "Krämer",
    "Piotrowski",  "Günther",  "Şimşek",     "Kühn",         "Grabowski",   "Pawłowski"};
#define N_FIRST (sizeof(first_names) / sizeof(first_names[0]))
#define N_LAST  (sizeof(last_names) / sizeof(last_names[0]))

/* School types: the name prefix and the grades their classes have. */
static const struct {
    const char *prefix;
    int first_grade, grades;
} school_types[] = {{"GS", 1, 4}, {"OS", 5, 6}, {"RS", 5, 6}, {"Gym", 5, 8}, {"GES", 5, 8}};
#define N_TYPES (sizeof(school_types) / sizeof(school_types[0]))

struct school {
    char name[16];
    int type;
    int n_classes;           /* class k: grade first + k % grades, letter 'a' + k / grades */
    int students;            /* students whose primary school this is (class numbering) */
    int members[ROLE_COUNT]; /* persons listed, by role (for the deletion-guard cap) */
    int losses[ROLE_COUNT];  /* persons the night removes from this school, by role */
    int order;               /* position in the night's import order */
    bool changed[ROLE_COUNT];
};

/* One person; school[1] < 0 unless the source lists the person at a second school. Classes
 * are per listed school (class indexes of that school); staff have none. */
struct person {
    uint16_t first, last;
    uint8_t role;
    uint8_t n_classes[2];
    int16_t school[2];
    int16_t classes[2][MAX_TEACHER_CLASSES];
    uint16_t birth_year;
    uint8_t birth_month, birth_day;
    bool gone;
};

/* What the night did, for the manifest. */
struct night_stats {
    long changed, name_changes, class_changes, moved, gone, gone_dual;
};

/* xorshift64*, seeded through splitmix64 so that neighbouring seeds give unrelated streams. */
struct rng {
    uint64_t s;
};

static void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    r->s = (z ^ (z >> 31)) | 1;
}

static uint32_t rnd(struct rng *r, uint32_t n)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)(((r->s * 2685821657736338717ULL) >> 32) % n);
}

/* Index into a list whose frequencies fall off like 1/(rank + 12): the first names are common
 * (a few percent each), the last rare, as in a real register. cum[] holds the running sums. */
static uint32_t pick_weighted(struct rng *r, const double *cum, size_t n)
{
    double x = (double)rnd(r, 1u << 30) / (double)(1u << 30) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) { /* bounded: halves every step */
        size_t mid = (lo + hi) / 2;
        if (cum[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static void zipf_cum(double *cum, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += 1.0 / ((double)i + 12.0);
        cum[i] = s;
    }
}

static void *xcalloc_or_die(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench_gen_authority: out of memory\n");
        exit(1);
    }
    return p;
}

static void make_schools(struct school *sc, int n, struct rng *r)
{
    for (int i = 0; i < n; i++) {
        sc[i].type = (int)((unsigned)i % N_TYPES);
        snprintf(sc[i].name, sizeof(sc[i].name), "%s%03d", school_types[sc[i].type].prefix, i + 1);
    }
    /* The night's import order: a shuffle. Movers only go to a school later in it, so the old
     * school always imports first and the person passes through limbo (docs/reference.md §2.3). */
    int *perm = xcalloc_or_die((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rnd(r, (uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < n; i++)
        sc[perm[i]].order = i;
    free(perm);
}

/* A random class of school s (-1 if it has none). */
static int16_t any_class(const struct school *s, struct rng *r)
{
    return s->n_classes ? (int16_t)rnd(r, (uint32_t)s->n_classes) : -1;
}

/* Teachers teach 1..4 distinct classes of a school. */
static void teacher_classes(struct person *p, int slot, const struct school *s, struct rng *r)
{
    int want = 1 + (int)rnd(r, MAX_TEACHER_CLASSES);
    p->n_classes[slot] = 0;
    for (int t = 0; t < want * 4 && p->n_classes[slot] < want && s->n_classes; t++) {
        int16_t c = any_class(s, r);
        bool dup = false;
        for (int k = 0; k < p->n_classes[slot]; k++)
            dup |= p->classes[slot][k] == c;
        if (!dup)
            p->classes[slot][p->n_classes[slot]++] = c;
    }
}

static bool same_classes(const int16_t *a, int na, const int16_t *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int k = 0; k < nb; k++)
            found |= a[i] == b[k];
        if (!found)
            return false;
    }
    return true;
}

static void student_class(struct person *p, int slot, const struct school *s, struct rng *r)
{
    int16_t c = any_class(s, r);
    p->n_classes[slot] = c >= 0;
    p->classes[slot][0] = c;
}

/* The authority as it is tonight: schools of uneven size (half to one and a half times the
 * mean), students in classes of CLASS_SIZE in the order the register lists them. */
static void make_persons(struct person *ps, long n, struct school *sc, int n_schools, struct rng *r)
{
    double cum_first[N_FIRST], cum_last[N_LAST];
    zipf_cum(cum_first, N_FIRST);
    zipf_cum(cum_last, N_LAST);
    double *cum_school = xcalloc_or_die((size_t)n_schools, sizeof(double));
    double s = 0;
    for (int i = 0; i < n_schools; i++) {
        s += 0.5 + (double)rnd(r, 1000) / 1000.0;
        cum_school[i] = s;
    }
    for (long i = 0; i < n; i++) {
        struct person *p = &ps[i];
        uint32_t x = rnd(r, 1000);
        p->role = x < STAFF_PERMILLE                      ? ROLE_STAFF
                  : x < STAFF_PERMILLE + TEACHER_PERMILLE ? ROLE_TEACHER
                                                          : ROLE_STUDENT;
        p->first = (uint16_t)pick_weighted(r, cum_first, N_FIRST);
        p->last = (uint16_t)pick_weighted(r, cum_last, N_LAST);
        p->school[0] = (int16_t)pick_weighted(r, cum_school, (size_t)n_schools);
        p->school[1] = -1;
        if (p->role == ROLE_STUDENT)
            sc[p->school[0]].students++;
        p->birth_year = (uint16_t)(1958 + rnd(r, 40)); /* students: set with their class */
        p->birth_month = (uint8_t)(1 + rnd(r, 12));
        p->birth_day = (uint8_t)(1 + rnd(r, 28));
    }
    free(cum_school);
    for (int i = 0; i < n_schools; i++)
        sc[i].n_classes = (sc[i].students + CLASS_SIZE - 1) / CLASS_SIZE;
    /* Classes: each school's students in register order fill class after class. */
    int *next = xcalloc_or_die((size_t)n_schools, sizeof(int));
    for (long i = 0; i < n; i++) {
        struct person *p = &ps[i];
        if (p->role == ROLE_STUDENT) {
            const struct school *h = &sc[p->school[0]];
            p->classes[0][0] = (int16_t)(next[p->school[0]]++ / CLASS_SIZE);
            p->n_classes[0] = 1;
            /* Six years old in grade 1 of a register written in 2026. */
            int grade =
                school_types[h->type].first_grade + p->classes[0][0] % school_types[h->type].grades;
            p->birth_year = (uint16_t)(2019 - grade - (int)rnd(r, 2));
        } else if (p->role == ROLE_TEACHER) {
            teacher_classes(p, 0, &sc[p->school[0]], r);
        }
    }
    free(next);
    /* A second school for DUAL_PERMILLE of the persons (teachers sharing two schools, pupils
     * of a cooperation, staff of a school association); the same role there. */
    if (n_schools > 1) {
        for (long i = 0; i < n; i++) {
            struct person *p = &ps[i];
            if (rnd(r, 1000) >= DUAL_PERMILLE)
                continue;
            int other = (p->school[0] + 1 + (int)rnd(r, (uint32_t)n_schools - 1)) % n_schools;
            p->school[1] = (int16_t)other;
            if (p->role == ROLE_STUDENT)
                student_class(p, 1, &sc[other], r);
            else if (p->role == ROLE_TEACHER)
                teacher_classes(p, 1, &sc[other], r);
        }
    }
    for (long i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (ps[i].school[k] >= 0)
                sc[ps[i].school[k]].members[ps[i].role]++;
}

/* May the night take this person away from school s without tripping the deletion guard? */
static bool may_lose(const struct school *s, int role)
{
    return (s->losses[role] + 1) * 100 <= s->members[role] * MAX_LOSS_PERCENT;
}

static void mark_changed(struct school *sc, const struct person *p)
{
    for (int k = 0; k < 2; k++)
        if (p->school[k] >= 0)
            sc[p->school[k]].changed[p->role] = true;
}

/* The next night: GONE_PER_100K persons leave the authority, MOVED_PER_100K move to another
 * school (single-school persons only, always to a school later in the import order), and
 * CHANGED_PER_100K change their last name or their classes at their primary school. The
 * three groups are disjoint; candidates come from a shuffle of everyone. */
static void make_night(struct person *ps, long n, struct school *sc, int n_schools, struct rng *r,
                       struct night_stats *st)
{
    long want_gone = (n * GONE_PER_100K + 50000) / 100000;
    long want_moved = (n * MOVED_PER_100K + 50000) / 100000;
    long want_changed = (n * CHANGED_PER_100K + 50000) / 100000;
    long *idx = xcalloc_or_die((size_t)n, sizeof(long));
    double cum_last[N_LAST];
    zipf_cum(cum_last, N_LAST);
    for (long i = 0; i < n; i++)
        idx[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)rnd(r, (uint32_t)i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (long k = 0; k < n; k++) {
        struct person *p = &ps[idx[k]];
        struct school *a = &sc[p->school[0]], *b2 = p->school[1] >= 0 ? &sc[p->school[1]] : NULL;
        if (st->gone < want_gone) {
            if (!may_lose(a, p->role) || (b2 && !may_lose(b2, p->role)))
                continue;
            a->losses[p->role]++;
            if (b2)
                b2->losses[p->role]++;
            mark_changed(sc, p);
            p->gone = true;
            st->gone++;
            st->gone_dual += b2 != NULL;
        } else if (st->moved < want_moved) {
            if (b2 || a->order == n_schools - 1 || !may_lose(a, p->role))
                continue;
            /* A school after the old one in the import order. */
            int later = n_schools - 1 - a->order, pick = (int)rnd(r, (uint32_t)later), to = -1;
            for (int s = 0; s < n_schools && to < 0; s++)
                if (sc[s].order > a->order && pick-- == 0)
                    to = s;
            a->losses[p->role]++;
            mark_changed(sc, p);
            p->school[0] = (int16_t)to;
            if (p->role == ROLE_STUDENT)
                student_class(p, 0, &sc[to], r);
            else if (p->role == ROLE_TEACHER)
                teacher_classes(p, 0, &sc[to], r);
            mark_changed(sc, p);
            st->moved++;
        } else if (st->changed < want_changed) {
            bool name = p->role == ROLE_STAFF || a->n_classes < 2 || rnd(r, 10) < 3;
            if (name) {
                uint16_t old = p->last;
                for (int t = 0; t < 16 && p->last == old; t++) /* another name, by frequency */
                    p->last = (uint16_t)pick_weighted(r, cum_last, N_LAST);
                if (p->last == old)
                    p->last = (uint16_t)((old + 1) % N_LAST);
                mark_changed(sc, p);
                st->name_changes++;
            } else {
                /* New classes at the primary school only: one Modified, the other school's
                 * row of a dual person stays as it was. */
                if (p->role == ROLE_STUDENT) {
                    int16_t old = p->classes[0][0];
                    p->classes[0][0] =
                        (int16_t)((old + 1 + (int)rnd(r, (uint32_t)a->n_classes - 1)) %
                                  a->n_classes);
                } else {
                    int16_t old[MAX_TEACHER_CLASSES];
                    int n_old = p->n_classes[0];
                    memcpy(old, p->classes[0], sizeof(old));
                    for (int t = 0;
                         t < 16 && same_classes(old, n_old, p->classes[0], p->n_classes[0]); t++)
                        teacher_classes(p, 0, a, r);
                    if (same_classes(old, n_old, p->classes[0], p->n_classes[0])) {
                        p->classes[0][0] = (int16_t)((old[0] + 1) % a->n_classes);
                        p->n_classes[0] = 1;
                    }
                }
                a->changed[p->role] = true;
                st->class_changes++;
            }
            st->changed++;
        } else {
            break;
        }
    }
    free(idx);
}

static void class_name(const struct school *s, int16_t k, char *out, size_t n)
{
    const int grades = school_types[s->type].grades;
    snprintf(out, n, "%d%c", school_types[s->type].first_grade + k % grades,
             (char)('a' + (k / grades) % 26));
}

/* Lower-case ASCII of a name for an e-mail local part: letters only; the diacritics are
 * simply dropped (the source database has its own rule; it only has to be valid). */
static void ascii_lower(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)in; *c && o + 1 < n; c++)
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z'))
            out[o++] = (char)(*c | 0x20);
    out[o] = '\0';
}

/* One row. Columns as deploy/stack.sh's import.csv.mapping names them (the layout of
 * examples/): record_uid,firstname,lastname,school,classes,email,birthday. Teachers have an
 * address of the authority; several classes make a quoted cell. */
static void write_row(FILE *f, long i, const struct person *p, int slot, const struct school *s)
{
    char cls[MAX_TEACHER_CLASSES * 8 + 4] = "", one[8];
    for (int k = 0; k < p->n_classes[slot]; k++) {
        class_name(s, p->classes[slot][k], one, sizeof(one));
        if (k)
            strcat(cls, ",");
        strcat(cls, one);
    }
    char email[96] = "";
    if (p->role == ROLE_TEACHER) {
        char fn[32], ln[32];
        ascii_lower(first_names[p->first], fn, sizeof(fn));
        ascii_lower(last_names[p->last], ln, sizeof(ln));
        /* One address per person, whichever school lists it: a dual teacher's two rows
         * must agree, or every import would change the address back and forth. */
        snprintf(email, sizeof(email), "%.1s.%s%ld@schulen.example.org", fn, ln, i);
    }
    fprintf(f, "SDB%07ld,%s,%s,%s,%s%s%s,%s,%04d-%02d-%02d\n", i, first_names[p->first],
            last_names[p->last], s->name, p->n_classes[slot] > 1 ? "\"" : "", cls,
            p->n_classes[slot] > 1 ? "\"" : "", email, p->birth_year, p->birth_month, p->birth_day);
}

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "bench_gen_authority: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes every school's three files (a role without anyone gets a header-only file: the
 * source exports it, and importing it is how a school says "nobody"). rows[s][role] counts. */
static int write_files(const char *dir, const struct person *ps, long n, const struct school *sc,
                       int n_schools, long (*rows)[ROLE_COUNT])
{
    FILE **f = xcalloc_or_die((size_t)n_schools * ROLE_COUNT, sizeof(FILE *));
    int rc = 0;
    char path[4096];
    for (int s = 0; s < n_schools && rc == 0; s++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sc[s].name);
        rc = mkdir_one(path);
        for (int role = 0; role < ROLE_COUNT && rc == 0; role++) {
            snprintf(path, sizeof(path), "%s/%s/%s.csv", dir, sc[s].name, role_name[role]);
            if (!(f[s * ROLE_COUNT + role] = fopen(path, "w"))) {
                fprintf(stderr, "bench_gen_authority: %s: %s\n", path, strerror(errno));
                rc = -1;
                break;
            }
            fputs("record_uid,firstname,lastname,school,classes,email,birthday\n",
                  f[s * ROLE_COUNT + role]);
        }
    }
    for (long i = 0; i < n && rc == 0; i++) {
        if (ps[i].gone)
            continue;
        for (int k = 0; k < 2; k++) {
            int s = ps[i].school[k];
            if (s < 0)
                continue;
            write_row(f[s * ROLE_COUNT + ps[i].role], i, &ps[i], k, &sc[s]);
            rows[s][ps[i].role]++;
        }
    }
    for (int i = 0; i < n_schools * ROLE_COUNT; i++) {
        if (f[i] && (ferror(f[i]) | fclose(f[i]))) {
            fprintf(stderr, "bench_gen_authority: write error in %s\n", dir);
            rc = -1;
        }
    }
    free(f);
    return rc;
}

/*
 * manifest.txt: "key value" lines, then one "import ORDER SCHOOL ROLE PATH ROWS CHANGED" line
 * per file in the order to import them (the first load: school by school as numbered; the
 * night: the shuffled order in which every mover's old school comes before the new one).
 * expect_* are the totals the reconciler's summary line must show over all the imports of
 * this file set, starting from the directory the previous mode left (empty for the first
 * load, the first load for the night).
 */
static int write_manifest(const char *dir, bool night, long n, uint64_t seed,
                          const struct person *ps, const struct school *sc, int n_schools,
                          long (*rows)[ROLE_COUNT], const struct night_stats *st)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_gen_authority: %s: %s\n", path, strerror(errno));
        return -1;
    }
    long records = 0, dual = 0, by_role[ROLE_COUNT] = {0}, active = 0;
    for (int s = 0; s < n_schools; s++)
        for (int role = 0; role < ROLE_COUNT; role++)
            records += rows[s][role];
    for (long i = 0; i < n; i++) {
        by_role[ps[i].role]++;
        if (!ps[i].gone) {
            active++;
            dual += ps[i].school[1] >= 0;
        }
    }
    fprintf(f, "# bench_gen_authority --persons %ld --schools %d --seed %llu%s\n", n, n_schools,
            (unsigned long long)seed, night ? " --night" : "");
    fprintf(f, "mode %s\npersons %ld\nschools %d\nseed %llu\n", night ? "night" : "load", n,
            n_schools, (unsigned long long)seed);
    fprintf(f, "students %ld\nteachers %ld\nstaff %ld\n", by_role[ROLE_STUDENT],
            by_role[ROLE_TEACHER], by_role[ROLE_STAFF]);
    fprintf(f, "files %d\nrecords %ld\ndual %ld\n", n_schools * ROLE_COUNT, records, dual);
    fprintf(f, "active_after %ld\nlimbo_after %ld\n", active, n - active);
    if (!night) {
        /* Everyone new; the second school of a dual person is a SchoolAdded (modified). */
        fprintf(f, "expect_created %ld\nexpect_modified %ld\nexpect_limbo 0\n", n, dual);
        fprintf(f, "expect_unchanged 0\n");
    } else {
        fprintf(f, "changed %ld\nname_changes %ld\nclass_changes %ld\n", st->changed,
                st->name_changes, st->class_changes);
        fprintf(f, "moved %ld\ngone %ld\ngone_dual %ld\n", st->moved, st->gone, st->gone_dual);
        /* Movers: limbo at the old school, Reactivated at the new one. A person gone from
         * two schools first loses one (SchoolRemoved), then goes to limbo. Every record but
         * a changed person's first and a mover's is unchanged. */
        fprintf(f, "expect_created 0\nexpect_modified %ld\nexpect_limbo %ld\n",
                st->changed + st->moved + st->gone_dual, st->moved + st->gone);
        fprintf(f, "expect_unchanged %ld\n", records - st->changed - st->moved);
        fprintf(f, "changed_schools");
        for (int s = 0; s < n_schools; s++)
            if (sc[s].changed[0] || sc[s].changed[1] || sc[s].changed[2])
                fprintf(f, " %s", sc[s].name);
        fprintf(f, "\n");
    }
    int *by_order = xcalloc_or_die((size_t)n_schools, sizeof(int));
    for (int s = 0; s < n_schools; s++)
        by_order[night ? sc[s].order : s] = s;
    for (int o = 0; o < n_schools; o++) {
        int s = by_order[o];
        for (int role = 0; role < ROLE_COUNT; role++)
            fprintf(f, "import %d %s %s %s/%s.csv %ld %d\n", o * ROLE_COUNT + role, sc[s].name,
                    role_name[role], sc[s].name, role_name[role], rows[s][role],
                    night && sc[s].changed[role]);
    }
    free(by_order);
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "bench_gen_authority: write error in %s\n", path);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_gen_authority [--persons N] [--schools S] [--seed X] [--night] "
               "OUTDIR\n"
               "  N persons (default 100000) over S schools (default 100, at most 9999), one\n"
               "  CSV per school and role in OUTDIR/<school>/<role>.csv, and OUTDIR/manifest.txt.\n"
               "  --night: the same authority the next night (1 %% changed, 0.5 %% moved,\n"
               "  0.2 %% gone). Usernames are first initial + last name with a counter: beyond\n"
               "  about 500,000 persons the commonest names pass the counter's 999.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"persons", required_argument, NULL, 'n'}, {"schools", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'x'},    {"night", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    long n = 100000;
    int n_schools = 100;
    uint64_t seed = 42;
    bool night = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = atol(optarg);
            break;
        case 's':
            n_schools = atoi(optarg);
            break;
        case 'x':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'N':
            night = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc - 1 || n < 1 || n > 10000000 || n_schools < 1 || n_schools > 9999) {
        usage(stderr);
        return 64;
    }
    const char *dir = argv[optind];
    if (mkdir_one(dir) < 0)
        return 1;
    struct school *sc = xcalloc_or_die((size_t)n_schools, sizeof(*sc));
    struct person *ps = xcalloc_or_die((size_t)n, sizeof(*ps));
    long(*rows)[ROLE_COUNT] = xcalloc_or_die((size_t)n_schools, sizeof(*rows));
    struct night_stats st = {0};
    struct rng r, rn;
    rng_seed(&r, seed);
    rng_seed(&rn, seed ^ 0x6e69676874ULL); /* the night's own stream: "night" */
    make_schools(sc, n_schools, &r);
    make_persons(ps, n, sc, n_schools, &r);
    if (night)
        make_night(ps, n, sc, n_schools, &rn, &st);
    int rc = write_files(dir, ps, n, sc, n_schools, rows) < 0 ||
                     write_manifest(dir, night, n, seed, ps, sc, n_schools, rows, &st) < 0
                 ? 1
                 : 0;
    free(rows);
    free(ps);
    free(sc);
    return rc;
}
