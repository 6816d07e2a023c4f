/*
 * dir_session: opens one bound libldap handle as the config says: timeouts, keepalive,
 * verified TLS (ldaps:// or StartTLS), simple bind from the password file or SASL EXTERNAL.
 *
 * Used by dir_conn; the returned LDAP handle belongs to the caller (ldap_unbind_ext).
 */
#ifndef SISOPI_DIR_SESSION_H
#define SISOPI_DIR_SESSION_H

#include <ldap.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct dir_session_params {
    const char *uri;
    const char *bind_dn;       /* NULL or "": SASL EXTERNAL, only over ldapi:// */
    const char *password_file; /* first line = password; refused if group/others may read it */
    const char *ca_file;       /* NULL: the system's CAs (TLS_CACERT of ldap.conf) */
    bool starttls;             /* ignored for ldaps:// */
    int network_ms;            /* connect timeout */
    int result_ms;             /* bounds the bind and StartTLS answers */
};

/*
 * Connects and binds. The certificate of a TLS server is always verified (DEMAND). The
 * password is wiped from memory after the bind. Returns LDAP_SUCCESS with *out set, or an LDAP
 * result code with err = "URI: what failed: Invalid credentials (49): server message"
 * (LDAP_LOCAL_ERROR for a password file problem, LDAP_PARAM_ERROR for a missing bind_dn).
 * Logs ldap_connected / ldap_connect_failed (never the password).
 */
int dir_session_open(const struct dir_session_params *p, LDAP **out, char *err, size_t errlen);

/* Unbinds and frees ld (NULL is fine) under a SIGPIPE guard: the server may be gone. */
void dir_session_close(LDAP *ld);

/*
 * libldap writes to its socket with write(2): writing to a server that has gone away raises
 * SIGPIPE, whose default action kills the process. Hold this guard around every libldap call
 * that may write (sends, bind, unbind): SIGPIPE is blocked meanwhile and one raised by the call
 * is discarded, so a lost server surfaces as LDAP_SERVER_DOWN. The process's handlers and
 * dispositions are left alone. Guards nest.
 */
struct dir_session_guard {
    sigset_t old;
};
void dir_session_guard_begin(struct dir_session_guard *g);
void dir_session_guard_end(struct dir_session_guard *g);

/* Applies the timeouts to an open handle. */
void dir_session_set_timeouts(LDAP *ld, int network_ms, int result_ms);

#endif
