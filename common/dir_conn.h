/*
 * dir_conn: one connection to the directory that keeps many asynchronous operations in flight
 * (a window) and completes each by a callback; paged searches, read-back controls, counters.
 *
 * Model (libldap's asynchronous API, one thread):
 *   - Every submit function (add, modify, rename, delete, search, counter_take) takes a callback
 *     that is called EXACTLY ONCE for that operation: later from dir_conn_poll/drain (or from a
 *     later submit that waits for the window), or before the submit returns when the operation
 *     could not be sent (connection down, bad arguments). The submit returns LDAP_SUCCESS when
 *     the operation is in flight, else the result code its callback already received.
 *   - A submit first waits (processing results, so calling callbacks) while `window` operations
 *     are outstanding. A submit from inside a callback does not wait, to keep callbacks from
 *     nesting: callbacks may submit (e.g. create a missing counter, then take it), but a callback
 *     that submits k operations can push the outstanding count to window + k. Record, then
 *     submit from the main loop, when that matters. poll, drain, reconnect and close must not be
 *     called from a callback (they return LDAP_PARAM_ERROR).
 *   - Everything handed to a callback (result info, entries, strings) is owned by this module
 *     and valid only during the call: copy what you keep. Strings are never NULL.
 *   - One thread: a connection, its submits and its callbacks stay on the thread that opened
 *     it (libldap handles are not shared). libldap writes with write(2); SIGPIPE from a vanished
 *     server is blocked around those writes (dir_session guard), so it surfaces as
 *     LDAP_SERVER_DOWN and never kills the process.
 *   - Ownership: dir_conn_open returns a connection that dir_conn_close frees; the config,
 *     DNs, mods and attribute lists passed in are copied or encoded before a call returns.
 *
 * Connection loss: when the server closes the connection, a read fails, or no answer arrives
 * for result_timeout, the connection is marked down and EVERY outstanding operation completes at
 * once with that code (LDAP_SERVER_DOWN, LDAP_TIMEOUT, LDAP_CONNECT_ERROR, ...) and
 * r->conn_lost = true: the server may or may not have applied it. Later submits complete at once
 * with LDAP_SERVER_DOWN until dir_conn_reconnect() succeeds. This module NEVER retries an
 * operation: the caller re-plans from its own state (read back, then apply again; permissive
 * modifies make that idempotent) after reconnecting.
 */
#ifndef SISOPI_DIR_CONN_H
#define SISOPI_DIR_CONN_H

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dir_entry.h"
#include "dir_escape.h"
#include "dir_mods.h"

/* Flags of dir_conn_modify. */
/* Permissive Modify (1.2.840.113556.1.4.1413): adding a value that exists or deleting one that
 * does not succeeds, so a replayed change is harmless. Works around a slapd 2.5 bug, see
 * dir_mods_array_permissive. */
#define DIR_CONN_PERMISSIVE 0x1u
/* RFC 4527 pre-read: the entry before the change. */
#define DIR_CONN_PREREAD 0x2u
/* RFC 4527 post-read: the entry after the change. */
#define DIR_CONN_POSTREAD 0x4u

#define DIR_CONN_DEFAULT_WINDOW    16
#define DIR_CONN_DEFAULT_PAGE_SIZE 1000
/* Used when the config leaves them 0 (ldap.connect_timeout, ldap.timeout set them). */
#define DIR_CONN_DEFAULT_NETWORK_TIMEOUT_MS 10000
#define DIR_CONN_DEFAULT_RESULT_TIMEOUT_MS  60000

enum dir_conn_op {
    DIR_CONN_OP_ADD = 0,
    DIR_CONN_OP_MODIFY,
    DIR_CONN_OP_RENAME,
    DIR_CONN_OP_DELETE,
    DIR_CONN_OP_SEARCH,
    DIR_CONN_OP_COUNTER,
    DIR_CONN_OP_COUNT
};

/* How an operation ended. Valid only during the callback. */
struct dir_result {
    enum dir_conn_op op;
    int rc;                 /* LDAP result code: LDAP_SUCCESS, LDAP_CONSTRAINT_VIOLATION (19),
                               LDAP_NO_SUCH_OBJECT (32), LDAP_SERVER_DOWN (-1), ... */
    bool conn_lost;         /* rc comes from a connection loss: outcome unknown, re-plan */
    const char *dn;         /* the DN the operation was about (search: the base), as submitted */
    const char *message;    /* the server's diagnostic message, else a local explanation; "" */
    const char *matched_dn; /* the server's matched DN; "" if none */
    const struct dir_entry *pre_read;  /* DIR_CONN_PREREAD (and counters), else NULL */
    const struct dir_entry *post_read; /* DIR_CONN_POSTREAD, else NULL */
    int64_t counter;                   /* dir_conn_counter_take: the value before the increment */
    size_t entries;                    /* search: entries delivered to entry_cb */
    uint64_t latency_us;               /* submit to completion */
};

typedef void (*dir_conn_cb)(const struct dir_result *r, void *opaque);
typedef void (*dir_conn_entry_cb)(const struct dir_entry *e, void *opaque);

/* Upper bounds (microseconds) of the latency histogram's buckets; a last, open bucket holds
 * what is slower. */
#define DIR_CONN_LATENCY_BUCKETS 12
extern const uint64_t dir_conn_latency_bounds_us[DIR_CONN_LATENCY_BUCKETS];

/* Per operation type: completed operations, those with rc != 0, and their latency. */
struct dir_conn_op_stats {
    uint64_t count;
    uint64_t errors;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t latency[DIR_CONN_LATENCY_BUCKETS + 1]; /* [i]: <= bounds[i]; [last]: slower */
};

struct dir_conn_stats {
    struct dir_conn_op_stats op[DIR_CONN_OP_COUNT];
    uint64_t connects;        /* successful connect + bind, the first one included */
    uint64_t conn_lost;       /* connection losses */
    uint64_t outstanding_max; /* most operations in flight at once (<= window, unless
                                 callbacks submitted) */
};

struct dir_conn;

/*
 * Connects to cfg->ldap.uri and binds; cfg is not kept (its strings are copied).
 *   - protocol v3, no referral chasing, TCP keepalive, the connect timeout
 *     (ldap.connect_timeout) and the result timeout (ldap.timeout: bind, StartTLS and every
 *     operation);
 *   - TLS: ldaps:// or ldap.starttls, verifying the server's certificate (DEMAND) against
 *     ldap.ca_file (else the system's CAs);
 *   - simple bind as ldap.bind_dn with the password from ldap.password_file (which must not be
 *     readable by others; wiped after use). With ldapi:// and no bind_dn: SASL EXTERNAL.
 * Returns LDAP_SUCCESS with *out set, or an LDAP result code (LDAP_SERVER_DOWN: unreachable,
 * LDAP_INVALID_CREDENTIALS, LDAP_CONNECT_ERROR: TLS failed, LDAP_LOCAL_ERROR: password file,
 * ...) with *out NULL and err naming the URI and the server's message.
 */
int dir_conn_open(const struct config *cfg, struct dir_conn **out, char *err, size_t errlen);

/* Completes every outstanding operation with LDAP_USER_CANCELLED (conn_lost), unbinds, frees.
 * NULL is fine. Drain first to get results instead. */
void dir_conn_close(struct dir_conn *c);

/* Operations kept in flight (default 16; 8 already saturates slapd's writer). Clamped to
 * 1..65536. */
void dir_conn_set_window(struct dir_conn *c, int n);
int dir_conn_window(const struct dir_conn *c);

/* network_ms bounds connecting (next connect); result_ms bounds the wait for any answer while
 * operations are outstanding (no answer to the oldest one for that long = connection lost).
 * Values <= 0 keep the current setting. */
void dir_conn_set_timeouts(struct dir_conn *c, int network_ms, int result_ms);

/* Entries per page of dir_conn_search (default 1000; 0 = no paged-results control). */
void dir_conn_set_page_size(struct dir_conn *c, int n);

/* Adds an entry; every change in mods must be an LDAP_MOD_ADD (else LDAP_PARAM_ERROR).
 * mods may be destroyed as soon as this returns (libldap has encoded the request). */
int dir_conn_add(struct dir_conn *c, const char *dn, const struct dir_mods *mods, dir_conn_cb cb,
                 void *opaque);

/* Modifies an entry. flags: DIR_CONN_PERMISSIVE | DIR_CONN_PREREAD | DIR_CONN_POSTREAD.
 * read_attrs (NULL-terminated; NULL = all user attributes) names what the read controls
 * return in r->pre_read / r->post_read. The controls are critical: a server without them
 * fails the operation (LDAP_UNAVAILABLE_CRITICAL_EXTENSION) instead of ignoring them. A
 * successful operation whose read control is missing or undecodable completes with
 * LDAP_CONTROL_NOT_FOUND / LDAP_DECODING_ERROR (the change itself was applied). */
int dir_conn_modify(struct dir_conn *c, const char *dn, const struct dir_mods *mods, unsigned flags,
                    const char *const *read_attrs, dir_conn_cb cb, void *opaque);

/* Renames and/or moves dn: newrdn is an escaped RDN ("uid=" + dir_escape_dn_value(uid));
 * newsuperior the new parent (NULL: same parent). deleteoldrdn: 1 removes the old RDN value. */
int dir_conn_rename(struct dir_conn *c, const char *dn, const char *newrdn, const char *newsuperior,
                    int deleteoldrdn, dir_conn_cb cb, void *opaque);

/* Deletes a leaf entry. */
int dir_conn_delete(struct dir_conn *c, const char *dn, dir_conn_cb cb, void *opaque);

/*
 * Searches with paged results (RFC 2696): entry_cb gets each entry as it arrives (memory stays
 * bounded by one entry, whatever the result size), done_cb once at the end with the final code
 * and r->entries. scope is LDAP_SCOPE_BASE/ONELEVEL/SUBTREE; filter must be built with
 * dir_escape_filter_value; attrs NULL-terminated, NULL = all user attributes. A search counts
 * as one operation of the window while all its pages run. On a connection loss done_cb gets
 * the loss code: throw away what entry_cb collected.
 */
int dir_conn_search(struct dir_conn *c, const char *base, int scope, const char *filter,
                    const char *const *attrs, dir_conn_entry_cb entry_cb, dir_conn_cb done_cb,
                    void *opaque);

/*
 * The same, run to its end before it returns (nothing else may be outstanding on c): entry_cb
 * gets each entry with opaque. Returns the final code (the connection's loss code when it was
 * lost); *entries (may be NULL) the entries delivered, msg (may be NULL) the server's
 * diagnostic message or "".
 */
int dir_conn_search_wait(struct dir_conn *c, const char *base, int scope, const char *filter,
                         const char *const *attrs, dir_conn_entry_cb entry_cb, void *opaque,
                         size_t *entries, char *msg, size_t msglen);

/*
 * Takes a number from an integer counter attribute atomically: modify INCREMENT attr by 1 with
 * the pre-read control; r->counter is the value BEFORE the increment (the number taken).
 * Concurrent takers (here or in other processes) always get distinct numbers.
 * The entry and the attribute must exist: a missing entry completes with LDAP_NO_SUCH_OBJECT
 * (32), a missing attribute with the server's error (LDAP_NO_SUCH_ATTRIBUTE). Creating the
 * counter (e.g. an add with the value 2 meaning "1 was taken", LDAP_ALREADY_EXISTS when another
 * process won the race: take again) is the caller's policy.
 */
int dir_conn_counter_take(struct dir_conn *c, const char *dn, const char *attr, dir_conn_cb cb,
                          void *opaque);

/*
 * Processes results (calling callbacks): waits up to timeout_ms for the first one, then takes
 * whatever else has arrived without waiting (at once when nothing is outstanding: this is no
 * sleep). Returns LDAP_SUCCESS, or the connection's failure
 * code once it is down (the outstanding operations have then been completed).
 */
int dir_conn_poll(struct dir_conn *c, int timeout_ms);

/* Processes results until nothing is outstanding (including what callbacks submit). Bounded:
 * a silent server ends it after result_timeout. Returns as dir_conn_poll. */
int dir_conn_drain(struct dir_conn *c);

/* Operations submitted and not completed yet. */
int dir_conn_outstanding(const struct dir_conn *c);

/* True after a connection loss, until a successful dir_conn_reconnect. */
bool dir_conn_is_down(const struct dir_conn *c);

/* Connects and binds again (re-reading the password file), also when not down. Nothing may be
 * outstanding (drain first). Returns as dir_conn_open; on failure the connection stays down. */
int dir_conn_reconnect(struct dir_conn *c, char *err, size_t errlen);

const char *dir_conn_uri(const struct dir_conn *c);

/* A copy of the counters since dir_conn_open. */
void dir_conn_get_stats(const struct dir_conn *c, struct dir_conn_stats *out);

/* "add", "modify", "rename", "delete", "search", "counter". */
const char *dir_conn_op_name(enum dir_conn_op op);

#endif
