/*
 * record_digest: a keyed 128-bit digest of what the SiSoPi rules read from a UserRecord under
 * the configuration they read, so that a record the state has already seen change nothing is
 * recognised without decoding the person (state_store's no-op digests).
 *
 * The digest covers every field plan_user_record reads for a person who exists (import_id,
 * the line, the dry-run flag and password_hash are left out: a password hash matters only when
 * an account is created, and generated passwords give every import new hashes) and every
 * configuration value plan.c and dir_layout.c read. Keyed SipHash-2-4-128 with the state
 * store's own random key: a source cannot make two records collide on purpose.
 */
#ifndef SISOPI_RECORD_DIGEST_H
#define SISOPI_RECORD_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

#define RECORD_DIGEST_LEN     16
#define RECORD_DIGEST_KEY_LEN 16

/* SipHash-2-4 with 128 bits of output (the reference's siphash128 variant). */
void siphash128(const uint8_t key[RECORD_DIGEST_KEY_LEN], const void *data, size_t len,
                uint8_t out[RECORD_DIGEST_LEN]);

/* The key of every digest: the store's key hashed with the configuration values. */
struct record_digest_ctx {
    uint8_t key[RECORD_DIGEST_KEY_LEN];
    uint8_t *buf; /* reused serialisation buffer */
    size_t cap;
};

void record_digest_init(struct record_digest_ctx *d, const struct config *cfg,
                        const uint8_t key[RECORD_DIGEST_KEY_LEN]);
void record_digest_free(struct record_digest_ctx *d);
void record_digest(struct record_digest_ctx *d, const struct user_record *r,
                   uint8_t out[RECORD_DIGEST_LEN]);

#endif
