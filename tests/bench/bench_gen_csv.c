/*
 * bench_gen_csv: writes a realistic school export of N students to stdout, for the ingest
 * benchmark: German, Turkish and Polish names with umlauts and plenty of collisions, classes of
 * about 25, a few multi-class rows and all three birthday formats. Deterministic for a seed.
 *
 *   bench_gen_csv N SCHOOL [SEED] > file.csv
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const first[] = {
    "Anna",       "Jörg",  "Zeynep", "Łukasz", "Mia",        "Paul",  "Emre",   "Sophie",
    "Ömer",       "Lena",  "Jan",    "Ayşe",   "Maximilian", "Zoë",   "Mehmet", "Katarzyna",
    "Lukas",      "Elif",  "Jürgen", "Ben",    "Marie",      "Piotr", "Hannah", "Can",
    "Małgorzata", "Felix", "Leonie", "Yusuf",  "Emilia",     "Noah"};
static const char *const last[] = {
    "Müller", "Schmidt", "Yılmaz",      "Kaya",         "Wiśniewski", "Schneider", "Fischer",
    "Weber",  "Öztürk",  "Kowalski",    "Bohnenkämper", "Heuelmann",  "Wagner",    "Becker",
    "Demir",  "Nowak",   "Hoffmann",    "Şahin",        "Schäfer",    "Koch",      "Zieliński",
    "Groß",   "Çelik",   "Lewandowski", "Krüger",       "Aydın",      "Wójcik",    "Meyer"};

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: fast, deterministic, good enough for test data. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_gen_csv N SCHOOL [SEED] > file.csv\n");
        return 64;
    }
    long n = atol(argv[1]);
    const char *school = argv[2];
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) | 1 : 88172645463325252ULL;
    printf("record_uid,firstname,lastname,school,classes,email,birthday\n");
    for (long i = 0; i < n; i++) {
        long cls = i / 25;
        int grade = 5 + (int)(cls % 8);
        char letter = (char)('a' + (cls / 8) % 26);
        int y = 2008 + (int)rnd(10), m = 1 + (int)rnd(12), d = 1 + (int)rnd(28);
        char bday[40];
        switch (rnd(3)) {
        case 0:
            snprintf(bday, sizeof(bday), "%04d-%02d-%02d", y, m, d);
            break;
        case 1:
            snprintf(bday, sizeof(bday), "%02d.%02d.%04d", d, m, y);
            break;
        default:
            snprintf(bday, sizeof(bday), "%02d/%02d/%04d", m, d, y);
            break;
        }
        const char *fn = first[rnd(sizeof(first) / sizeof(first[0]))];
        const char *ln = last[rnd(sizeof(last) / sizeof(last[0]))];
        if (rnd(20) == 0)
            printf("%s-%07ld,%s,%s,%s,\"%d%c,%s-AG-%d\",,%s\n", school, i, fn, ln, school, grade,
                   letter, school, (int)rnd(5), bday);
        else
            printf("%s-%07ld,%s,%s,%s,%d%c,,%s\n", school, i, fn, ln, school, grade, letter, bday);
    }
    return 0;
}
