/*
 * log: one line per event on stderr, "ts level service event key=value ..." or JSON,
 * so both people and log shippers can read it. Never pass a secret to it.
 */
#ifndef SISOPI_LOG_H
#define SISOPI_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LEVEL_DEBUG = 0, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR };

/* service names the program ("ingest"); format is "kv" or "json"; level as in the config.
 * When stderr is systemd's journal stream (JOURNAL_STREAM), every line starts with its syslog
 * priority, "<3>" error to "<7>" debug, for journald. */
void log_init(const char *service, const char *format, const char *level);

/* Whether JOURNAL_STREAM's value ("DEV:INODE") names the stream with that device and inode. */
bool log_stream_is_journal(const char *journal_stream, uint64_t dev, uint64_t ino);
bool log_enabled(enum log_level level);

/* Logs event with key/value string pairs, terminated by NULL:
 *   log_kv(LEVEL_INFO, "import_published", "import_id", id, "records", n_str, NULL);
 * A NULL value is skipped (with its key) so optional fields need no special casing. */
void log_kv(enum log_level level, const char *event, ...) __attribute__((sentinel));

#endif
