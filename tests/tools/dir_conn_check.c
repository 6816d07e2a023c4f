/*
 * dir_conn_check: drives common/dir_conn.c against a real slapd for
 * tests/integration/test_ldap_conn.sh and test_ldap_tls.sh. Each command checks its outcomes
 * and prints "FAIL: ..." lines (exit 1) or "ok ..." (exit 0); rates are printed, never checked.
 *
 *   dir_conn_check -c CFG [connection options] COMMAND [ARGS]
 *     --uri URI --bind-dn DN ("" = SASL EXTERNAL on ldapi://) --password-file F --ca-file F
 *     --starttls 0|1 --result-timeout MS --window N --page-size N
 *   open                                   connect, bind, read the base entry
 *   bulk PARENT N                          add N entries, paged read-back, modify all
 *   permissive DN                          permissive modify, pre/post-read
 *   unique PARENT TAKEN_UID                50 adds in flight, one reusing TAKEN_UID -> 19
 *   counter DN                             counter_take: missing -> 32, create, 20 in flight
 *   rename DN NEWPARENT                    move, special-character RDN, back
 *   delete DN                              delete, again -> 32, non-leaf -> 66
 *   down PARENT N SLAPD_PID KILL|STOP FLAG modifies lct-01000.. with slapd stopped or killed
 *                                          mid-window (KILL: writes FLAG, waits for a restart)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "dir_conn.h"
#include "log.h"
#include "strutil.h"

static int failures;

/* Prints the first 20 failures; counts all. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond) && failures++ < 20) {                                                          \
            printf("FAIL: %s:%d: ", __func__, __LINE__);                                           \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Callback bookkeeping: one slot per submitted operation. */

struct slot {
    int calls;
    int rc;
    int conn_lost;
    long long counter;
    char message[256];
    char read_value[64]; /* first value of the read-back attribute */
    size_t read_n;
};

struct book {
    struct slot *s;
    size_t n;
    const char *read_attr;
};

struct token {
    struct book *b;
    size_t i;
};

static void on_result(const struct dir_result *r, void *opaque)
{
    struct token *t = opaque;
    struct slot *s = &t->b->s[t->i];
    s->calls++;
    s->rc = r->rc;
    s->conn_lost = r->conn_lost;
    s->counter = r->counter;
    snprintf(s->message, sizeof(s->message), "%s", r->message);
    const struct dir_entry *e = r->post_read ? r->post_read : r->pre_read;
    if (e && t->b->read_attr) {
        const char *v = dir_entry_value(e, t->b->read_attr);
        snprintf(s->read_value, sizeof(s->read_value), "%s", v ? v : "");
        s->read_n = dir_entry_count(e, t->b->read_attr);
    }
}

static struct book *book_new(size_t n)
{
    struct book *b = xcalloc(1, sizeof(*b));
    b->s = xcalloc(n, sizeof(*b->s));
    b->n = n;
    return b;
}

static struct token *tokens_new(struct book *b)
{
    struct token *t = xcalloc(b->n, sizeof(*t));
    for (size_t i = 0; i < b->n; i++) {
        t[i].b = b;
        t[i].i = i;
    }
    return t;
}

static void book_free(struct book *b, struct token *t)
{
    free(t);
    free(b->s);
    free(b);
}

/* Runs one operation to completion; returns its rc (slot 0 of a one-slot book). */
struct one {
    struct book *b;
    struct token *t;
};

static struct one one_new(const char *read_attr)
{
    struct one o = {book_new(1), NULL};
    o.b->read_attr = read_attr;
    o.t = tokens_new(o.b);
    return o;
}

static int one_wait(struct dir_conn *c, struct one *o)
{
    dir_conn_drain(c);
    CHECK(o->b->s[0].calls == 1, "callback called %d times", o->b->s[0].calls);
    return o->b->s[0].rc;
}

static void one_free(struct one *o)
{
    book_free(o->b, o->t);
}

/* ------------------------------------------------------------------------------------------ */
/* Searches */

struct collect {
    size_t entries;
    char **uids; /* uid -> seen count via linear index: uid "lct-%05d" */
    int *seen;
    size_t n_expected;
    size_t bad;
    char last_dn[512];
    int rc;
    int done;
};

static void on_entry(const struct dir_entry *e, void *opaque)
{
    struct collect *col = opaque;
    col->entries++;
    snprintf(col->last_dn, sizeof(col->last_dn), "%s", e->dn);
    const char *uid = dir_entry_value(e, "uid");
    const char *rid = dir_entry_value(e, "ucsschoolRecordUID");
    int i;
    char want[32];
    if (col->seen && uid && sscanf(uid, "lct-%d", &i) == 1 && i >= 0 &&
        (size_t)i < col->n_expected) {
        snprintf(want, sizeof(want), "rid-%d", i);
        if (rid && strcmp(rid, want) == 0)
            col->seen[i]++;
        else
            col->bad++;
    }
}

static void on_search_done(const struct dir_result *r, void *opaque)
{
    struct collect *col = opaque;
    col->rc = r->rc;
    col->done++;
    CHECK(r->entries == col->entries, "r->entries %zu, entry_cb saw %zu", r->entries, col->entries);
}

static int search(struct dir_conn *c, const char *base, int scope, const char *filter,
                  struct collect *col)
{
    dir_conn_search(c, base, scope, filter, NULL, on_entry, on_search_done, col);
    dir_conn_drain(c);
    CHECK(col->done == 1, "search done_cb called %d times", col->done);
    return col->rc;
}

static int exists(struct dir_conn *c, const char *dn)
{
    struct collect col = {0};
    int rc = search(c, dn, LDAP_SCOPE_BASE, "(objectClass=*)", &col);
    return rc == LDAP_SUCCESS && col.entries == 1;
}

/* ------------------------------------------------------------------------------------------ */

static struct dir_mods *user_mods(const char *uid, int i)
{
    struct dir_mods *m = dir_mods_new();
    const char *oc[] = {"inetOrgPerson", "shadowAccount", "ucsschoolStudent"};
    char rid[32];
    snprintf(rid, sizeof(rid), "rid-%d", i);
    dir_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, 3);
    dir_mods_add1(m, LDAP_MOD_ADD, "uid", uid);
    dir_mods_add1(m, LDAP_MOD_ADD, "cn", uid);
    dir_mods_add1(m, LDAP_MOD_ADD, "sn", "Müller, Hans+Co");
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolSourceUID", "lct");
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRecordUID", rid);
    return m;
}

static char *user_dn(const char *parent, const char *uid)
{
    char *v = dir_escape_dn_value(uid);
    char *dn = xasprintf("uid=%s,%s", v, parent);
    free(v);
    return dn;
}

static int cmd_open(struct dir_conn *c, const struct config *cfg)
{
    struct collect col = {0};
    int rc = search(c, cfg->ldap.base, LDAP_SCOPE_BASE, "(objectClass=*)", &col);
    CHECK(rc == LDAP_SUCCESS && col.entries == 1, "base search rc %d entries %zu", rc, col.entries);
    CHECK(dir_dn_equal(col.last_dn, cfg->ldap.base), "base DN %s", col.last_dn);
    printf("ok open %s\n", dir_conn_uri(c));
    return 0;
}

static int cmd_bulk(struct dir_conn *c, const char *parent, int n)
{
    struct book *b = book_new((size_t)n);
    struct token *t = tokens_new(b);
    double t0 = clock_mono_s();
    for (int i = 0; i < n; i++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "lct-%05d", i);
        char *dn = user_dn(parent, uid);
        struct dir_mods *m = user_mods(uid, i);
        dir_conn_add(c, dn, m, on_result, &t[i]);
        dir_mods_destroy(m); /* right away: the request is encoded */
        free(dn);
        CHECK(dir_conn_outstanding(c) <= dir_conn_window(c), "outstanding %d > window",
              dir_conn_outstanding(c));
    }
    dir_conn_drain(c);
    double t_add = clock_mono_s() - t0;
    for (int i = 0; i < n; i++)
        CHECK(b->s[i].calls == 1 && b->s[i].rc == 0, "add %d: calls %d rc %d %s", i, b->s[i].calls,
              b->s[i].rc, b->s[i].message);

    struct collect col = {0};
    col.seen = xcalloc((size_t)n, sizeof(int));
    col.n_expected = (size_t)n;
    t0 = clock_mono_s();
    int rc = search(c, parent, LDAP_SCOPE_ONELEVEL, "(ucsschoolSourceUID=lct)", &col);
    double t_search = clock_mono_s() - t0;
    CHECK(rc == 0 && col.entries == (size_t)n && col.bad == 0, "search rc %d entries %zu bad %zu",
          rc, col.entries, col.bad);
    for (int i = 0; i < n; i++)
        CHECK(col.seen[i] == 1, "entry %d seen %d times", i, col.seen[i]);
    free(col.seen);

    memset(b->s, 0, (size_t)n * sizeof(*b->s));
    t0 = clock_mono_s();
    for (int i = 0; i < n; i++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "lct-%05d", i);
        char *dn = user_dn(parent, uid);
        struct dir_mods *m = dir_mods_new();
        dir_mods_add1(m, LDAP_MOD_REPLACE, "description", "bulk modified");
        dir_conn_modify(c, dn, m, 0, NULL, on_result, &t[i]);
        dir_mods_destroy(m);
        free(dn);
    }
    dir_conn_drain(c);
    double t_mod = clock_mono_s() - t0;
    for (int i = 0; i < n; i++)
        CHECK(b->s[i].calls == 1 && b->s[i].rc == 0, "modify %d: rc %d", i, b->s[i].rc);
    struct collect mod = {0};
    rc = search(c, parent, LDAP_SCOPE_ONELEVEL, "(description=bulk modified)", &mod);
    CHECK(rc == 0 && mod.entries == (size_t)n, "modified entries %zu", mod.entries);

    struct dir_conn_stats st;
    dir_conn_get_stats(c, &st);
    CHECK(st.op[DIR_CONN_OP_ADD].count == (uint64_t)n, "stats adds %llu",
          (unsigned long long)st.op[DIR_CONN_OP_ADD].count);
    CHECK(st.outstanding_max <= (uint64_t)dir_conn_window(c), "outstanding_max %llu",
          (unsigned long long)st.outstanding_max);
    printf("rate window=%d add=%.0f/s modify=%.0f/s search=%.0f entries/s "
           "add_latency_avg=%.2fms add_latency_max=%.2fms\n",
           dir_conn_window(c), n / t_add, n / t_mod, n / t_search,
           st.op[DIR_CONN_OP_ADD].sum_us / 1000.0 / (double)n,
           st.op[DIR_CONN_OP_ADD].max_us / 1000.0);
    book_free(b, t);
    printf("ok bulk %d\n", n);
    return 0;
}

/* Adds (or deletes) one value of ucsschoolSchool with the given flags; returns rc. */
static int school_change(struct dir_conn *c, const char *dn, int op, const char *value,
                         unsigned flags, struct slot *out)
{
    struct one o = one_new("ucsschoolSchool");
    struct dir_mods *m = dir_mods_new();
    dir_mods_add1(m, op, "ucsschoolSchool", value);
    const char *const attrs[] = {"ucsschoolSchool", NULL};
    dir_conn_modify(c, dn, m, flags, attrs, on_result, o.t);
    dir_mods_destroy(m);
    int rc = one_wait(c, &o);
    if (out)
        *out = o.b->s[0];
    one_free(&o);
    return rc;
}

static int cmd_permissive(struct dir_conn *c, const char *dn)
{
    struct slot s;
    CHECK(school_change(c, dn, LDAP_MOD_ADD, "Gym1", 0, NULL) == 0, "first add of a value");
    int rc = school_change(c, dn, LDAP_MOD_ADD, "Gym1", 0, &s);
    CHECK(rc == LDAP_TYPE_OR_VALUE_EXISTS, "adding an existing value without the control: %d", rc);
    CHECK(*s.message, "the server's message is passed on");
    rc = school_change(c, dn, LDAP_MOD_ADD, "Gym1", DIR_CONN_PERMISSIVE, NULL);
    CHECK(rc == 0, "adding an existing value, permissive: %d", rc);
    rc = school_change(c, dn, LDAP_MOD_DELETE, "Nowhere", 0, NULL);
    CHECK(rc == LDAP_NO_SUCH_ATTRIBUTE, "deleting a missing value: %d", rc);
    rc = school_change(c, dn, LDAP_MOD_DELETE, "Nowhere", DIR_CONN_PERMISSIVE, NULL);
    CHECK(rc == 0, "deleting a missing value, permissive: %d", rc);

    rc = school_change(c, dn, LDAP_MOD_ADD, "Gym2", DIR_CONN_PERMISSIVE | DIR_CONN_PREREAD, &s);
    CHECK(rc == 0 && s.read_n == 1 && strcmp(s.read_value, "Gym1") == 0,
          "pre-read: rc %d n %zu first %s", rc, s.read_n, s.read_value);
    rc = school_change(c, dn, LDAP_MOD_ADD, "Gym3", DIR_CONN_POSTREAD, &s);
    CHECK(rc == 0 && s.read_n == 3, "post-read: rc %d n %zu", rc, s.read_n);
    char *missing = xasprintf("uid=lct-nobody,%s", strchr(dn, ',') + 1);
    rc = school_change(c, missing, LDAP_MOD_ADD, "X", DIR_CONN_PERMISSIVE, &s);
    CHECK(rc == LDAP_NO_SUCH_OBJECT, "modify of a missing entry: %d", rc);
    free(missing);

    /* Several values, present and missing in any order, with other changes in the same modify:
     * all or nothing, and with the control, all. */
    struct one o = one_new("ucsschoolSchool");
    struct dir_mods *m = dir_mods_new();
    const char *del[] = {"Gym2", "Nowhere", "Gym3", "Elsewhere"};
    dir_mods_add(m, LDAP_MOD_DELETE, "ucsschoolSchool", del, 4);
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolSchool", "Gym1");
    dir_mods_add1(m, LDAP_MOD_DELETE, "mail", "nobody@example.org");
    dir_mods_add1(m, LDAP_MOD_REPLACE, "description", "permissive batch");
    dir_conn_modify(c, dn, m, DIR_CONN_PERMISSIVE | DIR_CONN_POSTREAD, NULL, on_result, o.t);
    dir_mods_destroy(m);
    rc = one_wait(c, &o);
    s = o.b->s[0];
    CHECK(rc == 0 && s.read_n == 1 && strcmp(s.read_value, "Gym1") == 0,
          "mixed permissive modify: rc %d (%s), schools %zu, first %s", rc, s.message, s.read_n,
          s.read_value);
    one_free(&o);

    /* A single-valued attribute: deleting a value it does not hold keeps the one it has. */
    o = one_new("ucsschoolRecordUID");
    m = dir_mods_new();
    dir_mods_add1(m, LDAP_MOD_DELETE, "ucsschoolRecordUID", "not-this-one");
    dir_conn_modify(c, dn, m, DIR_CONN_PERMISSIVE | DIR_CONN_POSTREAD, NULL, on_result, o.t);
    dir_mods_destroy(m);
    rc = one_wait(c, &o);
    s = o.b->s[0];
    CHECK(rc == 0 && s.read_n == 1 && strncmp(s.read_value, "rid-", 4) == 0,
          "single-valued permissive delete: rc %d (%s), values %zu", rc, s.message, s.read_n);
    one_free(&o);
    printf("ok permissive\n");
    return 0;
}

static int cmd_unique(struct dir_conn *c, const char *parent, const char *taken)
{
    enum { N = 50, DUP = 25 };
    struct book *b = book_new(N);
    struct token *t = tokens_new(b);
    for (int i = 0; i < N; i++) {
        char uid[64];
        if (i == DUP)
            snprintf(uid, sizeof(uid), "%s", taken);
        else
            snprintf(uid, sizeof(uid), "luq-%d", i);
        char *dn = user_dn(parent, uid);
        struct dir_mods *m = user_mods(uid, 100000 + i);
        dir_conn_add(c, dn, m, on_result, &t[i]);
        dir_mods_destroy(m);
        free(dn);
    }
    dir_conn_drain(c);
    for (int i = 0; i < N; i++) {
        CHECK(b->s[i].calls == 1, "op %d: %d calls", i, b->s[i].calls);
        if (i == DUP)
            CHECK(b->s[i].rc == LDAP_CONSTRAINT_VIOLATION && *b->s[i].message,
                  "duplicate uid: rc %d (%s)", b->s[i].rc, b->s[i].message);
        else
            CHECK(b->s[i].rc == 0, "op %d: rc %d (%s)", i, b->s[i].rc, b->s[i].message);
    }
    printf("ok unique: duplicate uid -> rc %d \"%s\"\n", b->s[DUP].rc, b->s[DUP].message);
    book_free(b, t);
    return 0;
}

/* counter_take on a missing counter from a callback chain: 32 -> add (value 2) -> take. */
struct chain {
    struct dir_conn *c;
    const char *dn;
    int step;
    int rc32;
    long long taken;
};

static void chain_cb(const struct dir_result *r, void *opaque)
{
    struct chain *ch = opaque;
    ch->step++;
    if (r->op == DIR_CONN_OP_COUNTER && r->rc == LDAP_NO_SUCH_OBJECT) {
        ch->rc32 = 1;
        struct dir_mods *m = dir_mods_new();
        dir_mods_add1(m, LDAP_MOD_ADD, "objectClass", "ucsschoolUsername");
        dir_mods_add1(m, LDAP_MOD_ADD, "cn", "lct-counter");
        dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolUsernameNextNumber", "2");
        dir_conn_add(ch->c, ch->dn, m, chain_cb, ch); /* submitting from a callback */
        dir_mods_destroy(m);
    } else if (r->op == DIR_CONN_OP_ADD && r->rc == 0) {
        dir_conn_counter_take(ch->c, ch->dn, "ucsschoolUsernameNextNumber", chain_cb, ch);
    } else if (r->op == DIR_CONN_OP_COUNTER && r->rc == 0) {
        ch->taken = r->counter;
    }
}

static int cmd_counter(struct dir_conn *c, struct dir_conn *c2, const char *dn)
{
    const char *attr = "ucsschoolUsernameNextNumber";
    struct chain ch = {c, dn, 0, 0, -1};
    dir_conn_counter_take(c, dn, attr, chain_cb, &ch);
    dir_conn_drain(c);
    CHECK(ch.rc32 && ch.step == 3 && ch.taken == 2, "chain: 32 seen %d, steps %d, taken %lld",
          ch.rc32, ch.step, ch.taken);

    /* 20 takes in flight on this connection and 20 on a second one, interleaved. */
    enum { N = 40 };
    struct book *b = book_new(N);
    struct token *t = tokens_new(b);
    for (int i = 0; i < N; i++)
        dir_conn_counter_take(i % 2 ? c2 : c, dn, attr, on_result, &t[i]);
    dir_conn_drain(c);
    dir_conn_drain(c2);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        CHECK(b->s[i].calls == 1 && b->s[i].rc == 0, "take %d: rc %d %s", i, b->s[i].rc,
              b->s[i].message);
        long long v = b->s[i].counter;
        CHECK(v >= 3 && v < 3 + N, "take %d: value %lld out of range", i, v);
        if (v >= 3 && v < 3 + N)
            seen[v - 3]++;
    }
    for (int i = 0; i < N; i++)
        CHECK(seen[i] == 1, "value %d taken %d times", i + 3, seen[i]);
    book_free(b, t);

    struct one o = one_new(attr);
    dir_conn_counter_take(c, dn, attr, on_result, o.t);
    one_wait(c, &o);
    CHECK(o.b->s[0].rc == 0 && o.b->s[0].counter == 3 + N, "next take %lld", o.b->s[0].counter);
    one_free(&o);
    o = one_new(NULL);
    dir_conn_counter_take(c, dn, "description", on_result, o.t);
    int rc = one_wait(c, &o);
    CHECK(rc != 0, "take of a missing attribute must fail: %d", rc);
    one_free(&o);
    printf("ok counter: %d distinct values over 2 connections, missing attribute -> %d\n", N, rc);
    return 0;
}

static int cmd_rename(struct dir_conn *c, const char *dn, const char *newparent)
{
    if (!strchr(dn, ',')) {
        CHECK(0, "DN %s has no parent", dn);
        return 1;
    }
    char *oldrdn = xstrndup(dn, (size_t)(strchr(dn, ',') - dn));
    char *oldparent = xstrdup(strchr(dn, ',') + 1);
    struct one o = one_new(NULL);
    dir_conn_rename(c, dn, oldrdn, newparent, 1, on_result, o.t);
    CHECK(one_wait(c, &o) == 0, "move: %s", o.b->s[0].message);
    one_free(&o);
    char *moved = xasprintf("%s,%s", oldrdn, newparent);
    CHECK(exists(c, moved) && !exists(c, dn), "entry moved to %s", moved);

    /* A new RDN full of special characters, found again by a filter on the raw value. */
    const char *raw = "Müller, Hans+Co <5a>; \"x\" \\ y=z #";
    char *esc = dir_escape_dn_value(raw), *newrdn = xasprintf("cn=%s", esc);
    o = one_new(NULL);
    dir_conn_rename(c, moved, newrdn, NULL, 0, on_result, o.t);
    CHECK(one_wait(c, &o) == 0, "rename to %s: %s", newrdn, o.b->s[0].message);
    one_free(&o);
    char *fval = dir_escape_filter_value(raw), *filter = xasprintf("(cn=%s)", fval);
    struct collect col = {0};
    int rc = search(c, newparent, LDAP_SCOPE_ONELEVEL, filter, &col);
    char *want = xasprintf("%s,%s", newrdn, newparent);
    CHECK(rc == 0 && col.entries == 1, "found by (cn=...): rc %d entries %zu", rc, col.entries);
    CHECK(dir_dn_equal(col.last_dn, want), "server DN %s equals %s", col.last_dn, want);
    printf("ok rename: server wrote %s\n", col.last_dn);

    /* And back, by the DN the server returned, with the old RDN. */
    o = one_new(NULL);
    dir_conn_rename(c, col.last_dn, oldrdn, oldparent, 1, on_result, o.t);
    CHECK(one_wait(c, &o) == 0, "move back: %s", o.b->s[0].message);
    one_free(&o);
    CHECK(exists(c, dn), "entry back at %s", dn);
    o = one_new(NULL);
    char *missing = xasprintf("uid=lct-nobody,%s", oldparent);
    dir_conn_rename(c, missing, "uid=x", NULL, 1, on_result, o.t);
    CHECK(one_wait(c, &o) == LDAP_NO_SUCH_OBJECT, "rename of a missing entry: %d", o.b->s[0].rc);
    free(missing);
    one_free(&o);
    free(want), free(fval), free(filter), free(esc), free(newrdn), free(moved);
    free(oldrdn), free(oldparent);
    return 0;
}

static int cmd_delete(struct dir_conn *c, const char *dn)
{
    struct one o = one_new(NULL);
    dir_conn_delete(c, dn, on_result, o.t);
    CHECK(one_wait(c, &o) == 0, "delete: %s", o.b->s[0].message);
    one_free(&o);
    CHECK(!exists(c, dn), "entry gone");
    o = one_new(NULL);
    dir_conn_delete(c, dn, on_result, o.t);
    CHECK(one_wait(c, &o) == LDAP_NO_SUCH_OBJECT, "delete again: %d", o.b->s[0].rc);
    one_free(&o);
    const char *parent = strchr(dn, ',') + 1;
    o = one_new(NULL);
    dir_conn_delete(c, parent, on_result, o.t);
    CHECK(one_wait(c, &o) == LDAP_NOT_ALLOWED_ON_NONLEAF, "delete of a non-leaf: %d", o.b->s[0].rc);
    one_free(&o);
    printf("ok delete\n");
    return 0;
}

/* Reconnects, retrying while the test restarts slapd; bounded: attempts, 200 ms apart. */
static int reconnect_retry(struct dir_conn *c, int attempts)
{
    char err[1024];
    int rc = -1;
    for (int i = 0; i < attempts; i++) {
        rc = dir_conn_reconnect(c, err, sizeof(err));
        if (rc == LDAP_SUCCESS)
            return 0;
        usleep(200000);
    }
    printf("FAIL: reconnect: %s\n", err);
    failures++;
    return rc;
}

/* Submits n modifies, stopping or killing slapd once the window is full; returns the time of
 * the signal. Operations refused at submit are marked with calls += 100. */
static double down_submit(struct dir_conn *c, const char *parent, struct book *b, struct token *t,
                          int pid, bool stop, double *t_lost)
{
    double t_kill = 0;
    for (int i = 0; i < (int)b->n; i++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "lct-%05d", 1000 + i); /* clear of what other commands touch */
        char *dn = user_dn(parent, uid);
        struct dir_mods *m = dir_mods_new();
        dir_mods_add1(m, LDAP_MOD_REPLACE, "description", "before the loss");
        int rc = dir_conn_modify(c, dn, m, DIR_CONN_PERMISSIVE, NULL, on_result, &t[i]);
        dir_mods_destroy(m);
        free(dn);
        if (rc != LDAP_SUCCESS) {
            if (!*t_lost)
                *t_lost = clock_mono_s();
            /* Not sent: completed inside the submit, with the code it returned. */
            CHECK(b->s[i].calls == 1 && b->s[i].rc == rc, "op %d: submit rc %d, callback rc %d", i,
                  rc, b->s[i].rc);
            b->s[i].calls += 100;
        }
        if (i == 2 * dir_conn_window(c)) {
            t_kill = clock_mono_s();
            CHECK(kill(pid, stop ? SIGSTOP : SIGKILL) == 0, "kill %d: %s", pid, strerror(errno));
        }
    }
    return t_kill;
}

/* Every operation completed exactly once: ok, lost in flight (rc expect), or refused. */
static void down_classify(struct dir_conn *c, struct book *b, int expect, int *ok, int *lost,
                          int *refused)
{
    for (size_t i = 0; i < b->n; i++) {
        struct slot *s = &b->s[i];
        if (s->calls > 100) { /* refused at submit: the connection was already known lost */
            CHECK(s->calls == 101 && s->conn_lost && s->rc == LDAP_SERVER_DOWN,
                  "refused op %zu: calls %d rc %d", i, s->calls - 100, s->rc);
            (*refused)++;
            continue;
        }
        CHECK(s->calls == 1, "op %zu: %d calls", i, s->calls);
        if (s->rc == 0)
            (*ok)++;
        else if (s->conn_lost && s->rc == expect)
            (*lost)++; /* in flight when the connection was lost */
        else
            CHECK(0, "op %zu: rc %d conn_lost %d (%s)", i, s->rc, s->conn_lost, s->message);
    }
    int window = dir_conn_window(c);
    CHECK(*lost >= 1 && *lost <= window, "lost with rc %d: %d (window %d)", expect, *lost, window);
    CHECK(*ok + *lost + *refused == (int)b->n, "ok %d + lost %d + refused %d != %zu", *ok, *lost,
          *refused, b->n);
}

static int cmd_down(struct dir_conn *c, const char *parent, int n, int pid, const char *how,
                    const char *flag)
{
    bool stop = strcmp(how, "STOP") == 0;
    int expect = stop ? LDAP_TIMEOUT : LDAP_SERVER_DOWN, ok = 0, lost = 0, refused = 0;
    struct book *b = book_new((size_t)n);
    struct token *t = tokens_new(b);
    double t_lost = 0, t_kill = down_submit(c, parent, b, t, pid, stop, &t_lost);
    int drc = dir_conn_drain(c);
    if (!t_lost)
        t_lost = clock_mono_s();
    down_classify(c, b, expect, &ok, &lost, &refused);
    CHECK(dir_conn_is_down(c) && drc == expect, "is_down %d, drain rc %d", dir_conn_is_down(c),
          drc);
    CHECK(dir_conn_outstanding(c) == 0, "outstanding %d", dir_conn_outstanding(c));
    printf("loss %s: %d ok, %d lost (rc %d), %d refused while down; noticed after %.2f s\n", how,
           ok, lost, expect, refused, t_lost - t_kill);
    book_free(b, t);

    if (stop) {
        char err[1024];
        double t0 = clock_mono_s();
        int rc = dir_conn_reconnect(c, err, sizeof(err));
        CHECK(rc != 0 && clock_mono_s() - t0 < 10,
              "reconnect to a stopped slapd: rc %d after %.1f s", rc, clock_mono_s() - t0);
        printf("reconnect while stopped: rc %d after %.2f s: %s\n", rc, clock_mono_s() - t0, err);
        CHECK(kill(pid, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
    } else {
        FILE *f = fopen(flag, "w"); /* tells the test to restart slapd */
        CHECK(f != NULL, "flag file %s: %s", flag, strerror(errno));
        if (f)
            fclose(f);
    }
    if (reconnect_retry(c, 150) != 0)
        return 1;
    CHECK(!dir_conn_is_down(c), "up after reconnect");
    struct collect col = {0};
    int rc = search(c, parent, LDAP_SCOPE_ONELEVEL, "(ucsschoolSourceUID=lct)", &col);
    CHECK(rc == 0 && col.entries > 0, "search after reconnect: rc %d entries %zu", rc, col.entries);
    struct dir_conn_stats st;
    dir_conn_get_stats(c, &st);
    CHECK(st.conn_lost >= 1 && st.connects >= 2, "stats: lost %llu connects %llu",
          (unsigned long long)st.conn_lost, (unsigned long long)st.connects);
    printf("ok down %s\n", how);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: dir_conn_check -c CFG [--uri U] [--bind-dn DN] [--password-file F] "
                    "[--ca-file F] [--starttls 0|1] [--result-timeout MS] [--window N] "
                    "[--page-size N] COMMAND ARGS...\n");
}

static int run(struct dir_conn *c, const struct config *cfg, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "open") == 0)
        return cmd_open(c, cfg);
    if (strcmp(cmd, "bulk") == 0 && argc == 3)
        return cmd_bulk(c, argv[1], atoi(argv[2]));
    if (strcmp(cmd, "permissive") == 0 && argc == 2)
        return cmd_permissive(c, argv[1]);
    if (strcmp(cmd, "unique") == 0 && argc == 3)
        return cmd_unique(c, argv[1], argv[2]);
    if (strcmp(cmd, "rename") == 0 && argc == 3)
        return cmd_rename(c, argv[1], argv[2]);
    if (strcmp(cmd, "delete") == 0 && argc == 2)
        return cmd_delete(c, argv[1]);
    if (strcmp(cmd, "down") == 0 && argc == 6)
        return cmd_down(c, argv[1], atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]);
    if (strcmp(cmd, "counter") == 0 && argc == 2) {
        char err[1024];
        struct dir_conn *c2 = NULL;
        if (dir_conn_open(cfg, &c2, err, sizeof(err)) != LDAP_SUCCESS) {
            printf("FAIL: second connection: %s\n", err);
            return 1;
        }
        dir_conn_set_window(c2, dir_conn_window(c));
        int rc = cmd_counter(c, c2, argv[1]);
        dir_conn_close(c2);
        return rc;
    }
    usage();
    return 64;
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    struct config cfg = {0};
    int window = 64, page_size = 300, result_ms = 0, i = 1;
    log_init("dir_conn_check", "kv", "info");
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the order with the log lines on stderr */
    char err[1024];
    /* Options that override the config are applied after loading it. */
    const char *uri = NULL, *bind_dn = NULL, *pwfile = NULL, *ca = NULL;
    bool starttls = false;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (strcmp(o, "-c") == 0)
            cfgpath = v;
        else if (strcmp(o, "--uri") == 0)
            uri = v;
        else if (strcmp(o, "--bind-dn") == 0)
            bind_dn = v;
        else if (strcmp(o, "--password-file") == 0)
            pwfile = v;
        else if (strcmp(o, "--ca-file") == 0)
            ca = v;
        else if (strcmp(o, "--starttls") == 0)
            starttls = strcmp(v, "1") == 0;
        else if (strcmp(o, "--result-timeout") == 0)
            result_ms = atoi(v);
        else if (strcmp(o, "--window") == 0)
            window = atoi(v);
        else if (strcmp(o, "--page-size") == 0)
            page_size = atoi(v);
        else
            break;
    }
    if (!cfgpath || i >= argc) {
        usage();
        return 64;
    }
    if (config_load(&cfg, cfgpath, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "dir_conn_check: %s\n", err);
        return 1;
    }
#define OVERRIDE(field, v)                                                                         \
    if (v) {                                                                                       \
        free(cfg.ldap.field);                                                                      \
        cfg.ldap.field = xstrdup(v);                                                               \
    }
    OVERRIDE(uri, uri)
    OVERRIDE(bind_dn, bind_dn)
    OVERRIDE(password_file, pwfile)
    OVERRIDE(ca_file, ca)
    cfg.ldap.starttls = cfg.ldap.starttls || starttls;
    struct dir_conn *c = NULL;
    int rc = dir_conn_open(&cfg, &c, err, sizeof(err));
    if (rc != LDAP_SUCCESS) {
        printf("open failed: rc=%d: %s\n", rc, err);
        config_free(&cfg);
        return 2;
    }
    dir_conn_set_window(c, window);
    dir_conn_set_page_size(c, page_size);
    dir_conn_set_timeouts(c, 0, result_ms);
    rc = run(c, &cfg, argc - i, argv + i);
    dir_conn_close(c);
    config_free(&cfg);
    if (rc == 0 && failures)
        rc = 1;
    if (failures)
        printf("%d check(s) failed\n", failures);
    return rc;
}
