/*
 * libFuzzer target: the CSV reader (encoding detection, delimiter sniffing, libcsv, limits) on
 * arbitrary bytes, read to the end as the ingest reads a file. Small limits so that the
 * oversized-field and too-many-columns paths are reached by short inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "csv_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.csv", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    static const char *const expected[] = {"record_uid", "firstname", "lastname"};
    struct csv_reader_options opt = {.max_field_bytes = 64,
                                     .max_line_bytes = 512,
                                     .max_columns = 16,
                                     .expected_columns = expected,
                                     .n_expected_columns = 3};
    struct csv_reader_error err;
    struct csv_reader *r = csv_reader_open(path, &opt, &err);
    if (r) {
        struct csv_reader_row row;
        int rc, rows = 0;
        while ((rc = csv_reader_next(r, &row, &err)) == CSV_READER_ROW ||
               rc == CSV_READER_BAD_ROW) {
            /* Touch every field: a wrong length or a missing NUL shows up under ASan. */
            for (size_t i = 0; rc == CSV_READER_ROW && i < row.n_fields; i++) {
                volatile char last = row.lengths[i] ? row.fields[i][row.lengths[i] - 1] : 0;
                (void)last;
                if (row.fields[i][row.lengths[i]] != '\0')
                    __builtin_trap();
            }
            if (++rows > 100000)
                __builtin_trap(); /* more rows than bytes: a loop that does not advance */
        }
        csv_reader_close(r);
    }
    close(fd);
    return 0;
}
