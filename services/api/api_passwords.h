/*
 * api_passwords: first passwords when import.initial_password = "generated". The API makes the
 * password of each record it publishes, sends only its hash in the record (the reconciler sets
 * it on a new account and ignores it otherwise), and keeps the plaintext in a file of its own
 * state directory (0600, one per job) for the job's principal. passwords.csv lists only the
 * accounts sisopi.events says the import created. Nothing of it reaches a topic or a log.
 */
#ifndef SISOPI_API_PASSWORDS_H
#define SISOPI_API_PASSWORDS_H

#include <stdio.h>

#include "api_jobs.h"
#include "config.h"
#include "records.h"

struct api_passwords;

/* Opens the job's password file for writing (state_dir/passwords/ID, 0600). NULL with err. */
struct api_passwords *api_passwords_open(const struct config *cfg, const char *id, char *err,
                                         size_t errlen);

/* The ingest's before_publish hook (opaque: the api_passwords): gives r a generated password's
 * hash unless it has one, and keeps the password. */
int api_passwords_hook(struct user_record *r, void *opaque, char *err, size_t errlen);

/* Closes the file (kept: 0; discard: removed). 0 or -1 with err. */
int api_passwords_close(struct api_passwords *pw, int discard, char *err, size_t errlen);

/* Keeps in job id's file only the records in created (record_uid -> anything: the accounts
 * the import created), once they are all known: the others' passwords are never shown, so
 * they are not kept either. 0, or -1 with err (the file stays as it was). */
struct strmap;
int api_passwords_prune(const struct config *cfg, const char *id, const struct strmap *created,
                        char *err, size_t errlen);

/* passwords.csv of job id: the created accounts (facts) with their passwords, in file order.
 * 0, or -1 when the job has no password file. */
int api_passwords_csv(const struct config *cfg, const char *id, const struct api_job_facts *facts,
                      FILE *out);

#endif
