/*
 * journal: entries and marks to bytes and back.
 */
#include "journal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

#define HEADER_LEN  12 /* "SJ", version, i64 input_offset, flags */
#define FLAG_BEFORE 1

void journal_entry_encode(const struct journal_entry *e, struct state_buf *out)
{
    unsigned char h[HEADER_LEN] = {'S', 'J', JOURNAL_VERSION};
    uint64_t off = (uint64_t)e->input_offset;
    for (int i = 0; i < 8; i++)
        h[3 + i] = (unsigned char)(off >> (56 - 8 * i));
    h[11] = e->has_before ? FLAG_BEFORE : 0;
    if (e->has_before) {
        state_codec_person_encode(&e->before, out); /* replaces out's contents */
        struct state_buf person = *out;
        *out = (struct state_buf){0};
        state_codec_buf_append(out, h, sizeof(h));
        state_codec_buf_append(out, person.p, person.len);
        state_codec_buf_free(&person);
    } else {
        out->len = 0;
        state_codec_buf_append(out, h, sizeof(h));
    }
}

int journal_entry_decode(const void *key, size_t key_len, const void *value, size_t len,
                         struct journal_entry *out, char *err, size_t errlen)
{
    const unsigned char *v = value;
    memset(out, 0, sizeof(*out));
    if (!key || key_len == 0 || memchr(key, '\0', key_len)) {
        snprintf(err, errlen, "journal entry without a record_uid key");
        return -1;
    }
    if (!v || len < HEADER_LEN || v[0] != 'S' || v[1] != 'J') {
        snprintf(err, errlen, "not a journal entry (%zu bytes)", len);
        return -1;
    }
    if (v[2] != JOURNAL_VERSION || (v[11] & ~FLAG_BEFORE)) {
        snprintf(err, errlen, "journal entry of an unknown version %u or flags %u", v[2], v[11]);
        return -1;
    }
    uint64_t off = 0;
    for (int i = 0; i < 8; i++)
        off = off << 8 | v[3 + i];
    out->input_offset = (int64_t)off;
    out->has_before = v[11] & FLAG_BEFORE;
    if (!out->has_before && len != HEADER_LEN) {
        snprintf(err, errlen, "journal entry with %zu bytes after its header", len - HEADER_LEN);
        return -1;
    }
    if (out->has_before && state_codec_person_decode(v + HEADER_LEN, len - HEADER_LEN, &out->before,
                                                     err, errlen) < 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->record_uid = xstrndup(key, key_len);
    return 0;
}

void journal_entry_free(struct journal_entry *e)
{
    if (e->has_before)
        person_free(&e->before);
    free(e->record_uid);
    memset(e, 0, sizeof(*e));
}

void journal_mark_format(const struct journal_mark *m, char *buf, size_t n)
{
    snprintf(buf, n, "sisopi1 owner=%s journal=%" PRId64, m->owner[0] ? m->owner : "-",
             m->position);
}

int journal_mark_parse(const void *metadata, size_t len, struct journal_mark *out)
{
    char s[128], owner[JOURNAL_OWNER_MAX];
    long long pos;
    int used = 0;
    out->owner[0] = '\0';
    out->position = -1;
    if (!metadata || len == 0 || len >= sizeof(s))
        return -1;
    memcpy(s, metadata, len);
    s[len] = '\0';
    if (sscanf(s, "sisopi1 owner=%47[0-9a-f.-] journal=%lld%n", owner, &pos, &used) != 2 ||
        (size_t)used != len || pos < -1)
        return -1;
    if (strcmp(owner, "-") != 0)
        snprintf(out->owner, sizeof(out->owner), "%s", owner);
    out->position = pos;
    return 0;
}
