/*
 * schema_registry: every Avro schema version this build knows (schemas/<family>.v<N>.avsc, embedded
 * at build time, plus any registered at run time), by family and version and by fingerprint.
 *
 * Entries live until schema_registry_shutdown(); the pointers returned by the lookups stay valid
 * until then and may be shared between threads (schemas and ifaces are never modified).
 */
#ifndef SISOPI_SCHEMA_REGISTRY_H
#define SISOPI_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

/* One schemas/<family>.v<version>.avsc file as embedded by schemas/embed.cmake. */
struct schema_text {
    const char *family; /* "users", "events" */
    int version;
    const char *file; /* the file name, for error messages */
    const char *text; /* the JSON, NUL-terminated */
};

/* Generated in the build tree (schemas_gen.c), sorted by file name. */
extern const struct schema_text schema_texts[];
extern const size_t schema_texts_count;

struct schema_entry {
    char *family;
    int version;
    uint64_t fingerprint; /* CRC-64-AVRO of canonical */
    char *canonical;      /* Parsing Canonical Form */
    avro_schema_t schema;
    avro_value_iface_t *iface; /* generic value class of schema */
};

/*
 * Parses every embedded schema. Idempotent and thread-safe; the lookups and
 * schema_registry_add() call it themselves, so services only need it to fail early.
 * Returns 0, or -1 with err filled (a broken embedded schema: a build defect).
 */
int schema_registry_init(char *err, size_t errlen);

/* Releases every entry; afterwards init may run again. No other thread may use the registry
 * (or a pointer it returned) during or after the call. */
void schema_registry_shutdown(void);

/*
 * Registers one more version of a family, e.g. an older writer's schema that was never
 * embedded. Refuses a (family, version) or fingerprint already known with a different schema;
 * registering the identical schema again is a no-op. A version above all others of its family
 * becomes that family's current (writer) schema. Returns 0, or -1 with err filled.
 */
int schema_registry_add(const char *family, int version, const char *json, char *err,
                        size_t errlen);

/* The entry whose fingerprint is fp, or NULL. */
const struct schema_entry *schema_registry_by_fingerprint(uint64_t fp);

/* The entry for (family, version), or NULL. */
const struct schema_entry *schema_registry_find(const char *family, int version);

/* The schema writers of a family use: its highest version, or NULL if the family is unknown. */
const struct schema_entry *schema_registry_current(const char *family);

#endif
