/*
 * bench_csv_parse: the parsing floor under sisopi-ingest --check. Reads a CSV file either with
 * bare libcsv (no-op callbacks that only count) or with sisopi's csv_reader (encoding check,
 * line scanner, libcsv, trimming), and prints the row count and the rate.
 *
 *   bench_csv_parse [--csv-reader] [-d DELIM] FILE.csv
 *
 * libcsv mode: strict parsing of 64 KiB read(2) chunks, delimiter -d (default ','). Rows
 * include the header. Exit 0 when the file parsed without a quoting error.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "csv_reader.h"

#define CHUNK 65536

struct counts {
    int64_t rows, fields, bytes;
};

static void on_field(void *s, size_t len, void *data)
{
    struct counts *c = data;
    (void)s;
    c->fields++;
    c->bytes += (int64_t)len;
}

static void on_row(int ch, void *data)
{
    struct counts *c = data;
    (void)ch;
    c->rows++;
}

static int parse_libcsv(const char *path, char delim, struct counts *c)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench_csv_parse: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct csv_parser p;
    int rc = -1;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fprintf(stderr, "bench_csv_parse: csv_init failed\n");
        close(fd);
        return -1;
    }
    csv_set_delim(&p, (unsigned char)delim);
    static char buf[CHUNK];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "bench_csv_parse: %s: %s\n", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (csv_parse(&p, buf, (size_t)n, on_field, on_row, c) != (size_t)n) {
            fprintf(stderr, "bench_csv_parse: %s: %s\n", path, csv_strerror(csv_error(&p)));
            goto out;
        }
    }
    if (csv_fini(&p, on_field, on_row, c) != 0) {
        fprintf(stderr, "bench_csv_parse: %s: %s\n", path, csv_strerror(csv_error(&p)));
        goto out;
    }
    rc = 0;
out:
    csv_free(&p);
    close(fd);
    return rc;
}

static int parse_csv_reader(const char *path, struct counts *c)
{
    struct csv_reader_options opt = {0};
    struct csv_reader_error err;
    struct csv_reader *r = csv_reader_open(path, &opt, &err);
    if (!r) {
        fprintf(stderr, "bench_csv_parse: %s:%" PRId64 ": %s\n", path, err.line, err.message);
        return -1;
    }
    int rc = 0;
    for (;;) {
        struct csv_reader_row row;
        int got = csv_reader_next(r, &row, &err);
        if (got == CSV_READER_EOF)
            break;
        if (got == CSV_READER_FATAL) {
            fprintf(stderr, "bench_csv_parse: %s:%" PRId64 ": %s\n", path, err.line, err.message);
            rc = -1;
            break;
        }
        c->rows++;
        if (got != CSV_READER_ROW)
            continue;
        c->fields += (int64_t)row.n_fields;
        for (size_t i = 0; i < row.n_fields; i++)
            c->bytes += (int64_t)row.lengths[i];
    }
    csv_reader_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"csv-reader", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool reader = false;
    char delim = ',';
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            reader = true;
            break;
        case 'd':
            delim = strcmp(optarg, "TAB") == 0 ? '\t' : optarg[0];
            break;
        case 'h':
            printf("usage: bench_csv_parse [--csv-reader] [-d DELIM] FILE.csv\n");
            return 0;
        default:
            fprintf(stderr, "usage: bench_csv_parse [--csv-reader] [-d DELIM] FILE.csv\n");
            return 64;
        }
    }
    if (optind != argc - 1 || !delim) {
        fprintf(stderr, "usage: bench_csv_parse [--csv-reader] [-d DELIM] FILE.csv\n");
        return 64;
    }
    const char *path = argv[optind];
    struct counts n = {0};
    double t0 = clock_mono_s();
    int rc = reader ? parse_csv_reader(path, &n) : parse_libcsv(path, delim, &n);
    double s = clock_mono_s() - t0;
    printf("bench_csv_parse mode=%s rows=%" PRId64 " fields=%" PRId64 " field_bytes=%" PRId64
           " seconds=%.3f rows_per_s=%.0f\n",
           reader ? "csv_reader" : "libcsv", n.rows, n.fields, n.bytes, s,
           s > 0 ? (double)n.rows / s : 0.0);
    return rc < 0 ? 1 : 0;
}
