/*
 * audit_text: how the audit writes times and lists, the same in every command, so lines from
 * different topics and machines sort and compare as text.
 */
#ifndef SISOPI_AUDIT_TEXT_H
#define SISOPI_AUDIT_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AUDIT_TIME_SIZE 32

/* UTC ISO-8601 with milliseconds: "2025-03-01T08:15:02.123Z". */
void audit_text_time_ms(int64_t unix_ms, char out[AUDIT_TIME_SIZE]);

/* UTC ISO-8601 in whole seconds (truncated): "2025-03-01T08:15:02Z"; for what LDAP holds in
 * seconds (purge dates). */
void audit_text_time_s(int64_t unix_ms, char out[AUDIT_TIME_SIZE]);

/* v[0] sep v[1] sep ...; "" when n is 0. malloc'd: the caller frees it. */
char *audit_text_join(char *const *v, size_t n, const char *sep);

/* The columns s takes on a terminal, roughly: its UTF-8 characters (NULL: 0). */
int audit_text_width(const char *s);

/* Writes s (NULL: "") for a terminal: control characters become '?', so a name from a file
 * cannot move the cursor or recolour the screen; then pads with spaces to width columns (0: no
 * padding). */
void audit_text_put(FILE *f, const char *s, int width);

#endif
