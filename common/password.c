/*
 * password: the reference's create_passwd on getrandom(2), and SHA-512 crypt through libcrypt.
 */
#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strutil.h"

/* The reference's alphabets: no "i l o I L O 0 1", easily mistaken for one another. */
static const char lower_chars[] = "abcdefghjkmnpqrstuvwxyz";
static const char upper_chars[] = "ABCDEFGHJKMNPQRSTUVWXYZ";
static const char digit_chars[] = "23456789";

/* The password can be at most this long (a sanity bound; the config allows 8..256). */
#define PASSWORD_MAX_LENGTH 4096

/* what: " for a salt" or "" (for the message). */
static int fill_random(unsigned char *buf, size_t n, const char *what, char *errstr,
                       size_t errstr_size)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(buf + got, n - got, 0);
        if (k < 0 && errno != EINTR) {
            snprintf(errstr, errstr_size, "cannot get random bytes%s: %s", what, strerror(errno));
            return -1;
        }
        got += k > 0 ? (size_t)k : 0;
    }
    return 0;
}

/* Random bytes, fetched from the kernel in batches. */
struct rng {
    unsigned char buf[64];
    size_t pos, len;
    char *errstr;
    size_t errstr_size;
};

/* A uniformly random number below n (1..256): bytes at or above the largest multiple of n
 * that fits are drawn again, so that no remainder is more likely than another. */
static int rng_below(struct rng *r, unsigned n, unsigned *out)
{
    unsigned limit = 256 - 256 % n;
    for (;;) {
        if (r->pos == r->len) {
            if (fill_random(r->buf, sizeof(r->buf), "", r->errstr, r->errstr_size) < 0)
                return -1;
            r->pos = 0;
            r->len = sizeof(r->buf);
        }
        unsigned b = r->buf[r->pos++];
        if (b < limit) {
            *out = b % n;
            return 0;
        }
    }
}

/* One character of the concatenation of up to four alphabets (NULL ends the list early). */
static int rng_pick(struct rng *r, const char *const sets[4], char *c)
{
    char pool[128];
    size_t n = 0;
    for (int k = 0; k < 4 && sets[k]; k++) {
        size_t len = strlen(sets[k]);
        memcpy(pool + n, sets[k], len);
        n += len;
    }
    unsigned i;
    if (rng_below(r, (unsigned)n, &i) < 0)
        return -1;
    *c = pool[i];
    return 0;
}

int password_generate(int length, char *out, size_t outsz, char *errstr, size_t errstr_size)
{
    if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
        snprintf(errstr, errstr_size, "password length %d is not between %d and %d", length,
                 PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
        return -1;
    }
    if (outsz < (size_t)length + 1) {
        snprintf(errstr, errstr_size, "a password of %d characters needs %d bytes", length,
                 length + 1);
        return -1;
    }
    static const char *const only_lower[4] = {lower_chars};
    static const char *const only_upper[4] = {upper_chars};
    static const char *const only_digit[4] = {digit_chars};
    static const char *const only_special[4] = {PASSWORD_SPECIALS};
    static const char *const letters[4] = {lower_chars, upper_chars};
    static const char *const no_special[4] = {lower_chars, upper_chars, digit_chars};
    static const char *const any[4] = {lower_chars, upper_chars, digit_chars, PASSWORD_SPECIALS};
    struct rng r = {.errstr = errstr, .errstr_size = errstr_size};
    int rc = -1, specials_allowed = length / 5; /* 20 % specials is enough, says the reference */
    size_t rest = (size_t)length - 1, n = 0;
    char *body = out + 1; /* out[0]: the leading letter, drawn last as in the reference */

    /* One of each class (a Windows requirement), then one special if the length allows. */
    if (rng_pick(&r, only_lower, &body[n++]) < 0 || rng_pick(&r, only_upper, &body[n++]) < 0 ||
        rng_pick(&r, only_digit, &body[n++]) < 0)
        goto out;
    if (specials_allowed > 0 && n < rest) {
        if (rng_pick(&r, only_special, &body[n++]) < 0)
            goto out;
        specials_allowed--;
    }
    while (n < rest) {
        if (rng_pick(&r, specials_allowed > 0 ? any : no_special, &body[n]) < 0)
            goto out;
        if (strchr(PASSWORD_SPECIALS, body[n]))
            specials_allowed--;
        n++;
    }
    for (size_t i = rest - 1; i > 0; i--) { /* Fisher-Yates */
        unsigned j;
        if (rng_below(&r, (unsigned)(i + 1), &j) < 0)
            goto out;
        char t = body[i];
        body[i] = body[j];
        body[j] = t;
    }
    if (rng_pick(&r, letters, &out[0]) < 0)
        goto out;
    out[length] = '\0';
    rc = 0;
out:
    if (rc < 0)
        explicit_bzero(out, (size_t)length + 1);
    explicit_bzero(&r, sizeof(r));
    return rc;
}

char *password_hash_unknown(char *errstr, size_t errstr_size)
{
    /* crypt's base-64 alphabet. 16 salt characters, then 86 characters for the 512-bit digest:
     * 85 full sextets and a last one that carries 2 bits (so only its first 4 letters occur). */
    static const char b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    enum { SALT = 16, DIGEST = 86 };
    unsigned char rnd[SALT + DIGEST];
    char v[sizeof("{CRYPT}$6$") + SALT + 1 + DIGEST];
    if (fill_random(rnd, sizeof(rnd), "", errstr, errstr_size) < 0)
        return NULL;
    char *p = v + snprintf(v, sizeof(v), "{CRYPT}$6$");
    for (size_t i = 0; i < SALT + DIGEST; i++) {
        if (i == SALT)
            *p++ = '$';
        *p++ = b64[rnd[i] & (i == SALT + DIGEST - 1 ? 3 : 63)];
    }
    *p = '\0';
    explicit_bzero(rnd, sizeof(rnd));
    return xstrdup(v);
}

char *password_hash(const char *password, char *errstr, size_t errstr_size)
{
    return password_hash_rounds(password, 0, errstr, errstr_size);
}

char *password_hash_rounds(const char *password, unsigned long rounds, char *errstr,
                           size_t errstr_size)
{
    unsigned char rnd[16];
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    char *out = NULL;
    if (fill_random(rnd, sizeof(rnd), " for a salt", errstr, errstr_size) < 0)
        goto out;
    if (!crypt_gensalt_rn("$6$", rounds, (const char *)rnd, (int)sizeof(rnd), setting,
                          (int)sizeof(setting))) {
        snprintf(errstr, errstr_size, "cannot make a SHA-512 crypt salt: %s", strerror(errno));
        goto out;
    }
    const char *h = crypt_r(password, setting, cd);
    if (!h || h[0] == '*') {
        snprintf(errstr, errstr_size, "cannot hash the password with SHA-512 crypt");
        goto out;
    }
    out = xasprintf("{CRYPT}%s", h);
out:
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    explicit_bzero(rnd, sizeof(rnd));
    return out;
}
