/*
 * log: formatting of event lines in key=value or JSON form.
 */
#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json_out.h"

static const char *log_service = "sisopi";
static bool log_json;
static enum log_level log_min = LEVEL_INFO;
static bool log_journal; /* stderr is the journal: lines start with <priority> */
static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities, as journald reads them from a "<N>" prefix: debug 7, info 6, warning 4,
 * err 3. */
static const int level_priorities[] = {7, 6, 4, 3};

bool log_stream_is_journal(const char *journal_stream, uint64_t dev, uint64_t ino)
{
    uintmax_t d, i;
    char rest;
    return journal_stream &&
           sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%c", &d, &i, &rest) == 2 && d == dev &&
           i == ino;
}

void log_init(const char *service, const char *format, const char *level)
{
    log_service = service;
    log_json = format && strcmp(format, "json") == 0;
    /* systemd sets JOURNAL_STREAM to the device and inode of the stream it gave stderr; when
     * stderr is still that stream, journald takes each line's priority from its prefix, and
     * `journalctl -p warning` works. */
    struct stat st;
    log_journal =
        fstat(STDERR_FILENO, &st) == 0 &&
        log_stream_is_journal(getenv("JOURNAL_STREAM"), (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    for (int i = 0; level && i < 4; i++) {
        if (strcmp(level, level_names[i]) == 0)
            log_min = (enum log_level)i;
    }
}

bool log_enabled(enum log_level level)
{
    return level >= log_min;
}

/* key=value, quoting values that hold spaces, quotes, '=' or control characters. */
static void kv_value(FILE *f, const char *v)
{
    bool quote = !*v;
    for (const char *p = v; *p && !quote; p++)
        quote = *p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20;
    if (!quote) {
        fputs(v, f);
        return;
    }
    json_write_string(f, v);
}

static void field(FILE *f, const char *k, const char *v)
{
    if (log_json) {
        fputc(',', f);
        json_write_string(f, k);
        fputc(':', f);
        json_write_string(f, v);
    } else {
        fprintf(f, " %s=", k);
        kv_value(f, v);
    }
}

static void begin(FILE *f, enum log_level level, const char *event)
{
    struct tm tm;
    char when[40];
    int64_t ms = clock_wall_ms();
    time_t sec = (time_t)(ms / 1000);
    gmtime_r(&sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(ms % 1000));
    if (log_journal)
        fprintf(f, "<%d>", level_priorities[level]);
    if (log_json) {
        fprintf(f, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":", when, level_names[level]);
        json_write_string(f, log_service);
        fputs(",\"event\":", f);
        json_write_string(f, event);
    } else {
        fprintf(f, "%s %s %s %s", when, level_names[level], log_service, event);
    }
}

static void end(FILE *f)
{
    fputs(log_json ? "}\n" : "\n", f);
    fflush(f);
}

void log_kv(enum log_level level, const char *event, ...)
{
    if (!log_enabled(level))
        return;
    flockfile(stderr);
    begin(stderr, level, event);
    va_list ap;
    va_start(ap, event);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (v)
            field(stderr, k, v);
    }
    va_end(ap);
    end(stderr);
    funlockfile(stderr);
}
