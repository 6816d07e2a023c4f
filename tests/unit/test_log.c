/* log: the journald priority prefix, decided from JOURNAL_STREAM and stderr's inode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void test_journal_stream_parsed(void **state)
{
    (void)state;
    assert_true(log_stream_is_journal("8:12345", 8, 12345));
    assert_false(log_stream_is_journal("8:12345", 8, 12346));
    assert_false(log_stream_is_journal("9:12345", 8, 12345));
    assert_false(log_stream_is_journal(NULL, 8, 12345));
    assert_false(log_stream_is_journal("", 8, 12345));
    assert_false(log_stream_is_journal("8:12345x", 8, 12345));
    assert_false(log_stream_is_journal("8", 8, 12345));
}

/* Logs one line of each level with stderr on a pipe; returns what came through it. */
static char *log_into_pipe(bool journal)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(p[1], STDERR_FILENO) >= 0);
    close(p[1]);
    struct stat st;
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    char js[64];
    snprintf(js, sizeof(js), "%ju:%ju", (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino + (journal ? 0 : 1));
    setenv("JOURNAL_STREAM", js, 1);
    log_init("test", "kv", "debug");
    log_kv(LEVEL_ERROR, "e1", NULL);
    log_kv(LEVEL_WARN, "w1", NULL);
    log_kv(LEVEL_INFO, "i1", NULL);
    log_kv(LEVEL_DEBUG, "d1", NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO); /* closes the pipe's last write end */
    close(saved);
    unsetenv("JOURNAL_STREAM");
    log_init("test", "kv", "info");
    char *text = calloc(1, 4096);
    size_t len = 0;
    for (ssize_t n; len < 4095 && (n = read(p[0], text + len, 4095 - len)) > 0;)
        len += (size_t)n;
    close(p[0]);
    return text;
}

static void test_priorities_on_the_journal(void **state)
{
    (void)state;
    char *t = log_into_pipe(true);
    const char *want[] = {"<3>", "<4>", "<6>", "<7>"};
    const char *line = t;
    for (int i = 0; i < 4; i++) {
        assert_non_null(line);
        assert_memory_equal(line, want[i], 3);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    assert_non_null(strstr(t, " error test e1\n"));
    free(t);
}

static void test_no_prefix_elsewhere(void **state)
{
    (void)state;
    char *t = log_into_pipe(false);
    assert_null(strchr(t, '<'));
    assert_non_null(strstr(t, " warn test w1\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_stream_parsed),
        cmocka_unit_test(test_priorities_on_the_journal),
        cmocka_unit_test(test_no_prefix_elsewhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
