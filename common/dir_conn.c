/*
 * dir_conn: asynchronous libldap with a window of outstanding operations, each completed by
 * its callback exactly once; connection loss completes everything outstanding.
 */
#include "dir_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <lber.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "dir_session.h"
#include "log.h"
#include "strutil.h"

/* One operation in flight. */
struct pending {
    int msgid;
    enum dir_conn_op op;
    unsigned flags;
    char *dn;
    dir_conn_cb cb;
    void *opaque;
    uint64_t t_start;  /* submit */
    uint64_t t_active; /* submit, or the last message of a search: the result timeout's base */
    /* search */
    dir_conn_entry_cb entry_cb;
    int scope;
    char *filter;
    char **attrs;
    struct berval cookie; /* libldap's allocation */
    size_t entries;
    /* counter */
    char *counter_attr;
};

struct dir_conn {
    LDAP *ld; /* NULL while down */
    char *uri, *bind_dn, *password_file, *ca_file;
    bool starttls;
    int window, page_size, network_ms, result_ms;
    struct pending **pend; /* in submit order */
    size_t n_pend, cap_pend;
    int cb_depth; /* > 0 while a callback runs */
    bool down;
    int down_rc;
    struct dir_session_guard guard; /* SIGPIPE, from submit_begin to submit_end */
    struct dir_conn_stats stats;
};

static const char *const op_names[DIR_CONN_OP_COUNT] = {"add",    "modify", "rename",
                                                        "delete", "search", "counter"};

const char *dir_conn_op_name(enum dir_conn_op op)
{
    return (unsigned)op < DIR_CONN_OP_COUNT ? op_names[op] : "?";
}

/* Codes after which the connection is unusable: every outstanding operation shares the fate. */
static bool is_conn_error(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT;
}

/* ---------------------------------------------------------------------------------------------
 * Pending operations and their completion
 * ------------------------------------------------------------------------------------------- */

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    free(p->dn);
    free(p->filter);
    for (size_t i = 0; p->attrs && p->attrs[i]; i++)
        free(p->attrs[i]);
    free(p->attrs);
    if (p->cookie.bv_val)
        ldap_memfree(p->cookie.bv_val);
    free(p->counter_attr);
    free(p);
}

static struct pending *pending_new(enum dir_conn_op op, const char *dn, dir_conn_cb cb,
                                   void *opaque)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->op = op;
    p->msgid = -1;
    p->dn = xstrdup(dn ? dn : "");
    p->cb = cb;
    p->opaque = opaque;
    p->t_start = p->t_active = clock_mono_us();
    return p;
}

static void table_add(struct dir_conn *c, struct pending *p)
{
    if (c->n_pend == c->cap_pend) {
        c->cap_pend = c->cap_pend ? 2 * c->cap_pend : 64;
        c->pend = xrealloc(c->pend, c->cap_pend * sizeof(*c->pend));
    }
    c->pend[c->n_pend++] = p;
    if (c->n_pend > c->stats.outstanding_max)
        c->stats.outstanding_max = c->n_pend;
}

static struct pending *table_find(struct dir_conn *c, int msgid)
{
    for (size_t i = 0; i < c->n_pend; i++) {
        if (c->pend[i]->msgid == msgid)
            return c->pend[i];
    }
    return NULL;
}

static void table_remove(struct dir_conn *c, struct pending *p)
{
    for (size_t i = 0; i < c->n_pend; i++) {
        if (c->pend[i] == p) {
            memmove(&c->pend[i], &c->pend[i + 1], (c->n_pend - i - 1) * sizeof(*c->pend));
            c->n_pend--;
            return;
        }
    }
}

/* Completes p (already out of the table): stats, the callback, then frees p. r carries rc and
 * whatever the caller knows; this fills the rest. */
static void finish(struct dir_conn *c, struct pending *p, struct dir_result *r)
{
    r->op = p->op;
    r->dn = p->dn;
    if (!r->message)
        r->message = "";
    if (!r->matched_dn)
        r->matched_dn = "";
    r->entries = p->entries;
    r->latency_us = clock_mono_us() - p->t_start;
    if (!c) { /* bad arguments without a connection */
        if (p->cb)
            p->cb(r, p->opaque);
        pending_free(p);
        return;
    }
    struct dir_conn_op_stats *s = &c->stats.op[p->op];
    s->count++;
    s->errors += r->rc != LDAP_SUCCESS;
    s->sum_us += r->latency_us;
    size_t b = 0;
    while (b < DIR_CONN_LATENCY_BUCKETS && r->latency_us > dir_conn_latency_bounds_us[b])
        b++;
    s->latency[b]++;
    if (r->latency_us > s->max_us)
        s->max_us = r->latency_us;
    if (p->cb) {
        c->cb_depth++;
        p->cb(r, p->opaque);
        c->cb_depth--;
    }
    pending_free(p);
}

/* Completes p (not in the table) with rc and a local message. */
static int finish_rc(struct dir_conn *c, struct pending *p, int rc, const char *message)
{
    struct dir_result r = {0};
    r.rc = rc;
    r.conn_lost = is_conn_error(rc);
    r.message = message ? message : ldap_err2string(rc);
    finish(c, p, &r);
    return rc;
}

static char *diagnostic(LDAP *ld)
{
    char *msg = NULL;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg);
    char *r = xstrdup(msg ? msg : "");
    ldap_memfree(msg);
    return r;
}

/*
 * The connection is lost: drop the handle and complete every outstanding operation, oldest
 * first, with rc. Callbacks that submit meanwhile see `down` and complete at once.
 */
static void conn_fail(struct dir_conn *c, int rc, const char *why)
{
    if (rc == LDAP_SUCCESS)
        rc = LDAP_SERVER_DOWN;
    char *diag = diagnostic(c->ld);
    char *msg = xasprintf("%s: connection lost: %s (%d)%s%s", c->uri,
                          why ? why : ldap_err2string(rc), rc, *diag ? ": " : "", diag);
    free(diag);
    c->down = true;
    c->down_rc = rc;
    c->stats.conn_lost++;
    dir_session_close(c->ld);
    c->ld = NULL;
    char outstanding[24];
    snprintf(outstanding, sizeof(outstanding), "%zu", c->n_pend);
    log_kv(LEVEL_WARN, "ldap_connection_lost", "uri", c->uri, "error", msg, "outstanding",
           outstanding, NULL);
    while (c->n_pend > 0) {
        struct pending *p = c->pend[0];
        table_remove(c, p);
        struct dir_result r = {0};
        r.rc = rc;
        r.conn_lost = true;
        r.message = msg;
        finish(c, p, &r);
    }
    free(msg);
}

/* ---------------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------------- */

/* The entry of the read control oid in ctrls; sets *rc (and *why) when it is missing or bad. */
static struct dir_entry *read_control(LDAPControl **ctrls, const char *oid, int *rc,
                                      const char **why)
{
    LDAPControl *ctl = ctrls ? ldap_control_find(oid, ctrls, NULL) : NULL;
    if (!ctl) {
        *rc = LDAP_CONTROL_NOT_FOUND;
        *why = "the change was applied but the server returned no read control";
        return NULL;
    }
    struct dir_entry *e = dir_entry_from_control(ctl);
    if (!e) {
        *rc = LDAP_DECODING_ERROR;
        *why = "the change was applied but its read control could not be decoded";
    }
    return e;
}

/* The counter's value before the increment, from the pre-read entry. */
static void read_counter(struct pending *p, struct dir_result *r)
{
    const char *v = dir_entry_value(r->pre_read, p->counter_attr);
    char *end = NULL;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || end == v || *end || errno) {
        r->rc = LDAP_DECODING_ERROR;
        r->message = "the counter was incremented but the pre-read value is not an integer";
        return;
    }
    r->counter = n;
}

/* A final response, parsed; parsed_free releases what libldap allocated. */
struct parsed {
    struct dir_result r;
    char *matched, *diag;
    LDAPControl **ctrls;
};

static void parse(struct dir_conn *c, LDAPMessage *msg, struct parsed *pr)
{
    int err = LDAP_SUCCESS;
    memset(pr, 0, sizeof(*pr));
    int prc = ldap_parse_result(c->ld, msg, &err, &pr->matched, &pr->diag, NULL, &pr->ctrls, 0);
    pr->r.rc = prc != LDAP_SUCCESS ? prc : err;
    pr->r.message = pr->diag;
    pr->r.matched_dn = pr->matched;
}

static void parsed_free(struct parsed *pr)
{
    ldap_memfree(pr->matched);
    ldap_memfree(pr->diag);
    ldap_controls_free(pr->ctrls);
}

/* The final response of an add, modify, rename, delete or counter. */
static void op_done(struct dir_conn *c, struct pending *p, LDAPMessage *msg)
{
    struct parsed pr;
    parse(c, msg, &pr);
    struct dir_result *r = &pr.r;
    struct dir_entry *pre = NULL, *post = NULL;
    if (r->rc == LDAP_SUCCESS && (p->flags & DIR_CONN_PREREAD)) {
        r->pre_read = pre = read_control(pr.ctrls, LDAP_CONTROL_PRE_READ, &r->rc, &r->message);
        if (pre && p->op == DIR_CONN_OP_COUNTER)
            read_counter(p, r);
    }
    if (r->rc == LDAP_SUCCESS && (p->flags & DIR_CONN_POSTREAD))
        r->post_read = post = read_control(pr.ctrls, LDAP_CONTROL_POST_READ, &r->rc, &r->message);
    table_remove(c, p);
    finish(c, p, r);
    dir_entry_free(pre);
    dir_entry_free(post);
    parsed_free(&pr);
}

static int search_send(struct dir_conn *c, struct pending *p);

/* The end of one page: ask for the next one, or complete the search. */
static void search_done(struct dir_conn *c, struct pending *p, LDAPMessage *msg)
{
    struct parsed pr;
    parse(c, msg, &pr);
    LDAPControl *page =
        pr.ctrls ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, pr.ctrls, NULL) : NULL;
    bool more = false;
    if (pr.r.rc == LDAP_SUCCESS && page && c->page_size > 0) {
        ber_int_t estimate = 0;
        struct berval cookie = {0, NULL};
        if (ldap_parse_pageresponse_control(c->ld, page, &estimate, &cookie) != LDAP_SUCCESS) {
            pr.r.rc = LDAP_DECODING_ERROR;
            pr.r.message = "undecodable paged-results control";
        } else if (cookie.bv_len > 0) {
            if (p->cookie.bv_val)
                ldap_memfree(p->cookie.bv_val);
            p->cookie = cookie;
            more = true;
        } else if (cookie.bv_val) {
            ldap_memfree(cookie.bv_val);
        }
    }
    if (!more) {
        table_remove(c, p);
        finish(c, p, &pr.r);
        parsed_free(&pr);
        return;
    }
    parsed_free(&pr);
    p->t_active = clock_mono_us();
    int rc = search_send(c, p);
    if (rc != LDAP_SUCCESS && is_conn_error(rc)) {
        conn_fail(c, rc, NULL); /* completes p too */
    } else if (rc != LDAP_SUCCESS) {
        table_remove(c, p);
        finish_rc(c, p, rc, "sending the next page failed");
    }
}

static void dispatch(struct dir_conn *c, LDAPMessage *msg)
{
    struct pending *p = table_find(c, ldap_msgid(msg));
    if (!p) {
        /* Unsolicited (msgid 0, e.g. a Notice of Disconnection) or a stray answer. */
        bool unsolicited = ldap_msgid(msg) == 0;
        ldap_msgfree(msg);
        if (unsolicited)
            conn_fail(c, LDAP_SERVER_DOWN, "unsolicited notification from the server");
        return;
    }
    switch (ldap_msgtype(msg)) {
    case LDAP_RES_SEARCH_ENTRY: {
        struct dir_entry *e = dir_entry_from_msg(c->ld, msg);
        p->entries++;
        p->t_active = clock_mono_us();
        if (p->entry_cb) {
            c->cb_depth++;
            p->entry_cb(e, p->opaque);
            c->cb_depth--;
        }
        dir_entry_free(e);
        break;
    }
    case LDAP_RES_SEARCH_REFERENCE:
    case LDAP_RES_INTERMEDIATE:
        p->t_active = clock_mono_us();
        break;
    case LDAP_RES_SEARCH_RESULT:
        search_done(c, p, msg);
        break;
    default:
        op_done(c, p, msg);
        break;
    }
    ldap_msgfree(msg);
}

/*
 * Waits up to timeout_ms for one message and handles it. Returns 1 if a message was handled,
 * 0 if none came, -1 if the connection is down. A connection with operations outstanding and
 * no answer to the oldest one for result_ms is declared lost (LDAP_TIMEOUT): a stopped or hung
 * server must not block the caller forever.
 */
static int step(struct dir_conn *c, int timeout_ms)
{
    if (c->down || !c->ld)
        return -1;
    if (c->n_pend == 0)
        return 0;
    uint64_t now = clock_mono_us(), oldest = now;
    for (size_t i = 0; i < c->n_pend; i++) {
        if (c->pend[i]->t_active < oldest)
            oldest = c->pend[i]->t_active;
    }
    uint64_t deadline = oldest + (uint64_t)c->result_ms * 1000u;
    if (now >= deadline) {
        char why[96];
        snprintf(why, sizeof(why), "no answer for %d ms (ldap.timeout)", c->result_ms);
        conn_fail(c, LDAP_TIMEOUT, why);
        return -1;
    }
    uint64_t wait_us = (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
    if (wait_us > deadline - now)
        wait_us = deadline - now;
    struct timeval tv = {(time_t)(wait_us / 1000000u), (suseconds_t)(wait_us % 1000000u)};
    LDAPMessage *msg = NULL;
    int t = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &tv, &msg);
    if (t < 0) {
        int err = LDAP_SERVER_DOWN;
        ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &err);
        if (msg)
            ldap_msgfree(msg);
        conn_fail(c, err, NULL);
        return -1;
    }
    if (t == 0 || !msg)
        return 0;
    dispatch(c, msg);
    return 1;
}

int dir_conn_poll(struct dir_conn *c, int timeout_ms)
{
    if (!c || c->cb_depth > 0)
        return LDAP_PARAM_ERROR;
    int r = step(c, timeout_ms);
    /* Then what has already arrived, without waiting; bounded so a busy stream cannot keep
     * the caller here forever. */
    for (int i = 0; r == 1 && i < 4096; i++)
        r = step(c, 0);
    return c->down ? c->down_rc : LDAP_SUCCESS;
}

int dir_conn_drain(struct dir_conn *c)
{
    if (!c || c->cb_depth > 0)
        return LDAP_PARAM_ERROR;
    /* Each round handles a message or waits at most 1 s; a server that stops answering ends
     * the loop through the result timeout. */
    while (c->n_pend > 0 && step(c, 1000) >= 0)
        ;
    return c->down ? c->down_rc : LDAP_SUCCESS;
}

/* ---------------------------------------------------------------------------------------------
 * Submitting
 * ------------------------------------------------------------------------------------------- */

/*
 * Before sending p: waits for room in the window (not inside a callback). Returns LDAP_SUCCESS
 * when p may be sent; otherwise p has been completed with the returned code.
 */
static int submit_begin(struct dir_conn *c, struct pending *p)
{
    if (c->cb_depth == 0) {
        while (!c->down && c->n_pend >= (size_t)c->window && step(c, 1000) >= 0)
            ;
    }
    if (c->down || !c->ld)
        return finish_rc(c, p, LDAP_SERVER_DOWN, "not connected (connection lost; reconnect)");
    p->t_start = p->t_active = clock_mono_us(); /* latency without the wait for the window */
    dir_session_guard_begin(&c->guard);
    return LDAP_SUCCESS;
}

/* After the libldap call that sent p: in flight, or completed with the send error. */
static int submit_end(struct dir_conn *c, struct pending *p, int rc)
{
    dir_session_guard_end(&c->guard);
    if (rc == LDAP_SUCCESS) {
        table_add(c, p);
        return LDAP_SUCCESS;
    }
    if (is_conn_error(rc)) {
        conn_fail(c, rc, NULL);
        return finish_rc(c, p, rc, "connection lost while sending");
    }
    char *diag = diagnostic(c->ld);
    rc = finish_rc(c, p, rc, *diag ? diag : NULL);
    free(diag);
    return rc;
}

/* Bad arguments: still called back, as promised (c may be NULL). */
static int bad_args(struct dir_conn *c, struct pending *p, const char *why)
{
    return finish_rc(c, p, LDAP_PARAM_ERROR, why);
}

int dir_conn_add(struct dir_conn *c, const char *dn, const struct dir_mods *mods, dir_conn_cb cb,
                 void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_ADD, dn, cb, opaque);
    if (!c || !dn || !dir_mods_count(mods))
        return bad_args(c, p, "add needs a connection, a DN and attributes");
    LDAPMod **m = dir_mods_array(mods);
    for (size_t i = 0; m[i]; i++) {
        if ((m[i]->mod_op & ~LDAP_MOD_BVALUES) != LDAP_MOD_ADD)
            return bad_args(c, p, "every change of an add must be LDAP_MOD_ADD");
    }
    int rc = submit_begin(c, p);
    if (rc != LDAP_SUCCESS)
        return rc;
    return submit_end(c, p, ldap_add_ext(c->ld, dn, m, NULL, NULL, &p->msgid));
}

/* A critical RFC 4527 read control asking for attrs (NULL: all user attributes). */
static int make_read_control(const char *oid, const char *const *attrs, LDAPControl **out)
{
    static const char *const all[] = {"*", NULL};
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    if (!ber)
        return LDAP_NO_MEMORY;
    struct berval bv;
    int rc = LDAP_ENCODING_ERROR;
    if (ber_printf(ber, "{v}", (char **)(attrs ? attrs : all)) != -1 &&
        ber_flatten2(ber, &bv, 0) != -1)
        rc = ldap_control_create(oid, 1, &bv, 1, out);
    ber_free(ber, 1);
    return rc;
}

static int submit_modify(struct dir_conn *c, struct pending *p, LDAPMod **m,
                         const char *const *read_attrs)
{
    LDAPControl *ctrls[4] = {NULL, NULL, NULL, NULL};
    int n = 0, rc = submit_begin(c, p);
    if (rc != LDAP_SUCCESS)
        return rc;
    if (p->flags & DIR_CONN_PERMISSIVE)
        rc = ldap_control_create(LDAP_CONTROL_X_PERMISSIVE_MODIFY, 1, NULL, 0, &ctrls[n++]);
    if (rc == LDAP_SUCCESS && (p->flags & DIR_CONN_PREREAD))
        rc = make_read_control(LDAP_CONTROL_PRE_READ, read_attrs, &ctrls[n++]);
    if (rc == LDAP_SUCCESS && (p->flags & DIR_CONN_POSTREAD))
        rc = make_read_control(LDAP_CONTROL_POST_READ, read_attrs, &ctrls[n++]);
    if (rc == LDAP_SUCCESS)
        rc = ldap_modify_ext(c->ld, p->dn, m, ctrls, NULL, &p->msgid);
    for (int i = 0; i < n; i++)
        ldap_control_free(ctrls[i]);
    return submit_end(c, p, rc);
}

int dir_conn_modify(struct dir_conn *c, const char *dn, const struct dir_mods *mods, unsigned flags,
                    const char *const *read_attrs, dir_conn_cb cb, void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_MODIFY, dn, cb, opaque);
    p->flags = flags;
    if (!c || !dn || !dir_mods_count(mods))
        return bad_args(c, p, "modify needs a connection, a DN and changes");
    if (flags & ~(DIR_CONN_PERMISSIVE | DIR_CONN_PREREAD | DIR_CONN_POSTREAD))
        return bad_args(c, p, "unknown modify flag");
    if (!(flags & DIR_CONN_PERMISSIVE))
        return submit_modify(c, p, dir_mods_array(mods), read_attrs);
    LDAPMod **m = dir_mods_array_permissive(mods);
    int rc = submit_modify(c, p, m, read_attrs);
    free(m);
    return rc;
}

int dir_conn_counter_take(struct dir_conn *c, const char *dn, const char *attr, dir_conn_cb cb,
                          void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_COUNTER, dn, cb, opaque);
    p->flags = DIR_CONN_PREREAD;
    struct dir_mods *mods = dir_mods_new();
    int rc;
    if (!c || !dn || dir_mods_add1(mods, LDAP_MOD_INCREMENT, attr, "1") != 0) {
        rc = bad_args(c, p, "counter_take needs a connection, a DN and an attribute name");
    } else {
        p->counter_attr = xstrdup(attr);
        const char *const read[] = {attr, NULL};
        rc = submit_modify(c, p, dir_mods_array(mods), read);
    }
    dir_mods_destroy(mods);
    return rc;
}

int dir_conn_rename(struct dir_conn *c, const char *dn, const char *newrdn, const char *newsuperior,
                    int deleteoldrdn, dir_conn_cb cb, void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_RENAME, dn, cb, opaque);
    if (!c || !dn || !newrdn || !*newrdn)
        return bad_args(c, p, "rename needs a connection, a DN and a new RDN");
    int rc = submit_begin(c, p);
    if (rc != LDAP_SUCCESS)
        return rc;
    return submit_end(
        c, p,
        ldap_rename(c->ld, dn, newrdn, newsuperior, deleteoldrdn ? 1 : 0, NULL, NULL, &p->msgid));
}

int dir_conn_delete(struct dir_conn *c, const char *dn, dir_conn_cb cb, void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_DELETE, dn, cb, opaque);
    if (!c || !dn)
        return bad_args(c, p, "delete needs a connection and a DN");
    int rc = submit_begin(c, p);
    if (rc != LDAP_SUCCESS)
        return rc;
    return submit_end(c, p, ldap_delete_ext(c->ld, dn, NULL, NULL, &p->msgid));
}

/* Sends (the next page of) search p; p->msgid becomes the new request's. */
static int search_send(struct dir_conn *c, struct pending *p)
{
    LDAPControl *page = NULL, *sctrls[2] = {NULL, NULL};
    if (c->page_size > 0) {
        int rc = ldap_create_page_control(c->ld, c->page_size, p->cookie.bv_len ? &p->cookie : NULL,
                                          0, &page);
        if (rc != LDAP_SUCCESS)
            return rc;
        sctrls[0] = page;
    }
    struct dir_session_guard g; /* the next page is sent from a result, outside a submit */
    dir_session_guard_begin(&g);
    int rc = ldap_search_ext(c->ld, p->dn, p->scope, p->filter, p->attrs, 0, sctrls, NULL, NULL,
                             LDAP_NO_LIMIT, &p->msgid);
    dir_session_guard_end(&g);
    if (page)
        ldap_control_free(page);
    return rc;
}

int dir_conn_search(struct dir_conn *c, const char *base, int scope, const char *filter,
                    const char *const *attrs, dir_conn_entry_cb entry_cb, dir_conn_cb done_cb,
                    void *opaque)
{
    struct pending *p = pending_new(DIR_CONN_OP_SEARCH, base, done_cb, opaque);
    if (!c || !base)
        return bad_args(c, p, "search needs a connection and a base");
    if (scope != LDAP_SCOPE_BASE && scope != LDAP_SCOPE_ONELEVEL && scope != LDAP_SCOPE_SUBTREE)
        return bad_args(c, p, "search scope must be base, one or sub");
    p->entry_cb = entry_cb;
    p->scope = scope;
    p->filter = xstrdup(filter ? filter : "(objectClass=*)");
    if (attrs) {
        size_t n = 0;
        while (attrs[n])
            n++;
        p->attrs = xcalloc(n + 1, sizeof(*p->attrs));
        for (size_t i = 0; i < n; i++)
            p->attrs[i] = xstrdup(attrs[i]);
    }
    int rc = submit_begin(c, p);
    if (rc != LDAP_SUCCESS)
        return rc;
    return submit_end(c, p, search_send(c, p));
}

/* dir_conn_search_wait's view of one search: both callbacks get it. */
struct search_wait {
    dir_conn_entry_cb entry_cb;
    void *opaque;
    int rc;
    size_t entries;
    char *msg;
    size_t msglen;
};

static void wait_entry(const struct dir_entry *e, void *opaque)
{
    struct search_wait *w = opaque;
    if (w->entry_cb)
        w->entry_cb(e, w->opaque);
}

static void wait_done(const struct dir_result *r, void *opaque)
{
    struct search_wait *w = opaque;
    w->rc = r->rc;
    w->entries = r->entries;
    if (w->msg)
        snprintf(w->msg, w->msglen, "%s", r->message ? r->message : "");
}

int dir_conn_search_wait(struct dir_conn *c, const char *base, int scope, const char *filter,
                         const char *const *attrs, dir_conn_entry_cb entry_cb, void *opaque,
                         size_t *entries, char *msg, size_t msglen)
{
    struct search_wait w = {entry_cb, opaque, LDAP_OTHER, 0, msg, msglen};
    if (msg && msglen)
        msg[0] = '\0';
    dir_conn_search(c, base, scope, filter, attrs, wait_entry, wait_done, &w);
    int rc = dir_conn_drain(c); /* the callbacks have run: every operation completes */
    if (entries)
        *entries = w.entries;
    return rc != LDAP_SUCCESS ? rc : w.rc;
}

/* ---------------------------------------------------------------------------------------------
 * Connecting
 * ------------------------------------------------------------------------------------------- */

/* A new bound handle in c->ld (the old one must be gone). */
static int conn_connect(struct dir_conn *c, char *err, size_t n)
{
    struct dir_session_params sp = {
        .uri = c->uri,
        .bind_dn = c->bind_dn,
        .password_file = c->password_file,
        .ca_file = c->ca_file,
        .starttls = c->starttls,
        .network_ms = c->network_ms,
        .result_ms = c->result_ms,
    };
    int rc = dir_session_open(&sp, &c->ld, err, n);
    if (rc != LDAP_SUCCESS)
        return rc;
    c->down = false;
    c->down_rc = LDAP_SUCCESS;
    c->stats.connects++;
    return LDAP_SUCCESS;
}

int dir_conn_open(const struct config *cfg, struct dir_conn **out, char *err, size_t n)
{
    *out = NULL;
    if (!cfg || !cfg->ldap.uri) {
        snprintf(err, n, "ldap.uri is not set");
        return LDAP_PARAM_ERROR;
    }
    struct dir_conn *c = xcalloc(1, sizeof(*c));
    c->uri = xstrdup(cfg->ldap.uri);
    c->bind_dn = cfg->ldap.bind_dn ? xstrdup(cfg->ldap.bind_dn) : NULL;
    c->password_file = cfg->ldap.password_file ? xstrdup(cfg->ldap.password_file) : NULL;
    c->ca_file = cfg->ldap.ca_file && *cfg->ldap.ca_file ? xstrdup(cfg->ldap.ca_file) : NULL;
    c->starttls = cfg->ldap.starttls;
    c->window = DIR_CONN_DEFAULT_WINDOW;
    c->page_size = DIR_CONN_DEFAULT_PAGE_SIZE;
    c->network_ms = DIR_CONN_DEFAULT_NETWORK_TIMEOUT_MS;
    c->result_ms = DIR_CONN_DEFAULT_RESULT_TIMEOUT_MS;
    /* config_load bounds them (1 s .. 1 h, 1 s .. 1 d): no int overflow in ms. */
    if (cfg->ldap.connect_timeout_seconds > 0)
        c->network_ms = (int)(cfg->ldap.connect_timeout_seconds * 1000);
    if (cfg->ldap.timeout_seconds > 0)
        c->result_ms = (int)(cfg->ldap.timeout_seconds * 1000);
    int rc = conn_connect(c, err, n);
    if (rc != LDAP_SUCCESS) {
        c->down = true; /* nothing to unbind */
        dir_conn_close(c);
        return rc;
    }
    *out = c;
    return LDAP_SUCCESS;
}

int dir_conn_reconnect(struct dir_conn *c, char *err, size_t n)
{
    if (!c || c->cb_depth > 0 || c->n_pend > 0) {
        snprintf(err, n, "%s: reconnect with operations outstanding or from a callback",
                 c ? c->uri : "dir_conn");
        return LDAP_PARAM_ERROR;
    }
    dir_session_close(c->ld);
    c->ld = NULL;
    c->down = true;
    c->down_rc = LDAP_SERVER_DOWN;
    int rc = conn_connect(c, err, n);
    if (rc == LDAP_SUCCESS)
        log_kv(LEVEL_INFO, "ldap_reconnected", "uri", c->uri, NULL);
    else
        c->down_rc = is_conn_error(rc) ? rc : LDAP_SERVER_DOWN;
    return rc;
}

void dir_conn_close(struct dir_conn *c)
{
    if (!c)
        return;
    if (c->cb_depth > 0) {
        log_kv(LEVEL_ERROR, "dir_conn_misuse", "uri", c->uri, "error",
               "dir_conn_close called from a callback; ignored", NULL);
        return;
    }
    while (c->n_pend > 0) {
        struct pending *p = c->pend[0];
        table_remove(c, p);
        struct dir_result r = {0};
        r.rc = LDAP_USER_CANCELLED;
        r.conn_lost = true;
        r.message = "the connection was closed";
        finish(c, p, &r);
    }
    dir_session_close(c->ld);
    free(c->pend);
    free(c->uri);
    free(c->bind_dn);
    free(c->password_file);
    free(c->ca_file);
    free(c);
}

void dir_conn_set_window(struct dir_conn *c, int n)
{
    if (c)
        c->window = n < 1 ? 1 : n > 65536 ? 65536 : n;
}

int dir_conn_window(const struct dir_conn *c)
{
    return c ? c->window : 0;
}

void dir_conn_set_timeouts(struct dir_conn *c, int network_ms, int result_ms)
{
    if (!c)
        return;
    if (network_ms > 0)
        c->network_ms = network_ms;
    if (result_ms > 0)
        c->result_ms = result_ms;
    if (c->ld)
        dir_session_set_timeouts(c->ld, c->network_ms, c->result_ms);
}

void dir_conn_set_page_size(struct dir_conn *c, int n)
{
    if (c)
        c->page_size = n < 0 ? 0 : n;
}

int dir_conn_outstanding(const struct dir_conn *c)
{
    return c ? (int)c->n_pend : 0;
}

bool dir_conn_is_down(const struct dir_conn *c)
{
    return !c || c->down;
}

const char *dir_conn_uri(const struct dir_conn *c)
{
    return c ? c->uri : "";
}

void dir_conn_get_stats(const struct dir_conn *c, struct dir_conn_stats *out)
{
    if (c)
        *out = c->stats;
    else
        memset(out, 0, sizeof(*out));
}

const uint64_t dir_conn_latency_bounds_us[DIR_CONN_LATENCY_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};
