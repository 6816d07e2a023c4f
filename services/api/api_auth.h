/*
 * api_auth: who calls. A login is checked by the directory (the service's own bind finds the
 * person's DN by uid, a second connection binds as that DN with the given password); what the
 * person may import comes from the import groups it is a member of (ucsschoolImportGroup:
 * ucsschoolImportSchool x ucsschoolImportRole). Tokens are random, kept in memory only.
 * Failed logins are counted per address and per account and refused for a while beyond a limit.
 *
 * Threads: every function may be called from any thread. Passwords are never stored, logged or
 * put into an error.
 */
#ifndef SISOPI_API_AUTH_H
#define SISOPI_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

#define API_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */

/* One school a principal may import for, with the roles (bit 1 << enum role). */
struct api_grant {
    char *school; /* as the import group names it */
    unsigned roles;
};

struct api_principal {
    char *username;
    char *dn;
    struct api_grant *grants;
    size_t n_grants;
};

enum api_auth_rc {
    API_AUTH_OK = 0,
    API_AUTH_DENIED,      /* wrong name or password, expired or unknown token: 401 */
    API_AUTH_LIMITED,     /* too many failed logins from the address or for the account: 429 */
    API_AUTH_UNAVAILABLE, /* the directory cannot be asked: 503 */
};

struct api_auth;

/* Reads the service account's password file once. NULL with err. */
struct api_auth *api_auth_new(const struct config *cfg, char *err, size_t errlen);
void api_auth_free(struct api_auth *a);

/* Checks username/password from address (for the limits). On API_AUTH_OK fills *out (free with
 * api_principal_free). On API_AUTH_LIMITED *retry_after says in how many seconds to try again. */
enum api_auth_rc api_auth_login(struct api_auth *a, const char *username, const char *password,
                                const char *address, struct api_principal *out, int *retry_after);

/* A new token for p (copied), valid for api.token_lifetime. out holds API_TOKEN_LEN + 1. */
int api_auth_token_new(struct api_auth *a, const struct api_principal *p, char *out, size_t outsz);

/* The principal of a valid token, copied into *out: API_AUTH_OK or API_AUTH_DENIED. */
enum api_auth_rc api_auth_token_get(struct api_auth *a, const char *token,
                                    struct api_principal *out);

void api_auth_token_revoke(struct api_auth *a, const char *token);

/* The token lifetime in seconds. */
int64_t api_auth_token_lifetime(const struct api_auth *a);

/* Whether p may import role for school (school compared case-insensitively). */
bool api_principal_may(const struct api_principal *p, const char *school, enum role role);
/* Whether p may see school's jobs (any role). */
bool api_principal_sees(const struct api_principal *p, const char *school);

void api_principal_copy(struct api_principal *dst, const struct api_principal *src);
void api_principal_free(struct api_principal *p);

#endif
