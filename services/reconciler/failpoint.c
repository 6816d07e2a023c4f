/*
 * failpoint: SISOPI_FAILPOINT parsed once; a counter per process.
 */
#include "failpoint.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static bool parsed;
static char point[64];
static long countdown;

static void parse(void)
{
    parsed = true;
    const char *v = getenv("SISOPI_FAILPOINT");
    if (!v || !*v)
        return;
    const char *colon = strchr(v, ':');
    size_t len = colon ? (size_t)(colon - v) : strlen(v);
    char *end = NULL;
    long n = colon ? strtol(colon + 1, &end, 10) : 1;
    if (len == 0 || len >= sizeof(point) || n < 1 || (colon && *end)) {
        log_kv(LEVEL_WARN, "failpoint_ignored", "value", v, "msg", "expected NAME or NAME:N", NULL);
        return;
    }
    memcpy(point, v, len);
    point[len] = '\0';
    countdown = n;
}

void failpoint(const char *name)
{
    if (!parsed)
        parse();
    if (!point[0] || strcmp(point, name) != 0 || --countdown > 0)
        return;
    log_kv(LEVEL_WARN, "failpoint", "name", name, "msg", "killing this process (SISOPI_FAILPOINT)",
           NULL);
    fflush(NULL);
    raise(SIGKILL);
}
