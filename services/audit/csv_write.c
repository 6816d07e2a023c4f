/*
 * csv_write: one pass per field; nothing is buffered beyond stdio's own buffer.
 */
#include "csv_write.h"

bool csv_write_needs_guard(const char *s)
{
    if (!s)
        return false;
    switch (s[0]) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
        return true;
    default:
        return false;
    }
}

static void write_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (csv_write_needs_guard(s))
        fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int csv_write_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fputc(',', f);
        write_field(f, fields[i]);
    }
    fputs("\r\n", f);
    return ferror(f) ? -1 : 0;
}
