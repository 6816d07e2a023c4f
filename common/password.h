/*
 * password: initial passwords for new users as UCS@school generates them (docs/reference.md §3),
 * and the {CRYPT} SHA-512 hash that is all sisopi ever stores or sends of a password.
 *
 * Ownership: password_generate writes into the caller's buffer (the caller wipes it with
 * explicit_bzero when done); password_hash returns a malloc'd string. Both wipe every copy of
 * a plaintext they make. err never contains a password.
 */
#ifndef SISOPI_PASSWORD_H
#define SISOPI_PASSWORD_H

#include <stddef.h>

/* The special characters a generated password may contain. */
#define PASSWORD_SPECIALS "$%&*-+=:.?"
/* The shortest password password_generate makes: a letter, then a lower-case letter, an
 * upper-case letter and a digit. */
#define PASSWORD_MIN_LENGTH 4

/*
 * A random password of `length` characters (config import.password_length, default 15), built
 * like the reference's create_passwd: it starts with a letter and has at least one lower-case
 * letter, one upper-case letter and one digit, and one special character from
 * PASSWORD_SPECIALS if length >= 5, at most length / 5 of them (20 %); never any of
 * "i l o I L O 0 1". Randomness from getrandom(2), each choice uniform (rejection sampling).
 * out must hold length + 1 bytes. Returns 0, or -1 with err (length out of range, no
 * randomness).
 */
int password_generate(int length, char *out, size_t outsz, char *err, size_t errlen);

/* "{CRYPT}$6$<salt>$<hash>": SHA-512 crypt (libcrypt) with 16 bytes of getrandom() salt.
 * Returns the malloc'd hash, or NULL with err. */
char *password_hash(const char *password, char *err, size_t errlen);

/*
 * As password_hash, with the SHA-512 crypt rounds given (0: the default 5000; at least 1000).
 * For generated initial passwords only: they are random (about 86 bits for 15 characters) and
 * known to nobody, so stretching adds no strength, while 5000 rounds (~4 ms) would bound how
 * fast accounts can be created. Passwords people chose keep the default.
 */
char *password_hash_rounds(const char *password, unsigned long rounds, char *err, size_t errlen);

#define PASSWORD_GENERATED_ROUNDS 1000

/*
 * "{CRYPT}$6$<salt>$<hash>" made of random characters only: a well-formed SHA-512 crypt value
 * that is the hash of no password anyone knows, for a new account nobody is to be told the
 * password of (import.initial_password "unknown"). Logging in needs a preimage of a random
 * 512-bit value, which is harder than guessing a generated password, and it costs no hashing
 * (a generated password costs 0.5-1 ms of CPU per account). Tools that read the hash see an
 * ordinary one. Returns the malloc'd value, or NULL with err (no randomness).
 */
char *password_hash_unknown(char *err, size_t errlen);

#endif
