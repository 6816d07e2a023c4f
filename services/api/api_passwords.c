/*
 * api_passwords: one tab-separated file per job: record_uid, password, lastname, firstname,
 * classes (each %-escaped), in file order; written before the records are published.
 */
#include "api_passwords.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv_write.h"
#include "password.h"
#include "strmap.h"
#include "strutil.h"

struct api_passwords {
    const struct config *cfg;
    char *path;
    FILE *f;
};

static char *dir_of(const struct config *cfg)
{
    return xasprintf("%s/passwords", cfg->api.state_dir);
}

static char *path_of(const struct config *cfg, const char *id)
{
    return xasprintf("%s/passwords/%s", cfg->api.state_dir, id);
}

struct api_passwords *api_passwords_open(const struct config *cfg, const char *id, char *err,
                                         size_t n)
{
    char *dir = dir_of(cfg);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, n, "%s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    free(dir);
    struct api_passwords *pw = xcalloc(1, sizeof(*pw));
    pw->cfg = cfg;
    pw->path = path_of(cfg, id);
    int fd = open(pw->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(pw->f = fdopen(fd, "w"))) {
        snprintf(err, n, "%s: %s", pw->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(pw->path);
        free(pw);
        return NULL;
    }
    return pw;
}

static void put(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '%' || *p < 0x20 || *p == 0x7f)
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
    }
}

static char *take(const char *s, size_t len)
{
    char *out = xmalloc(len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < len && sscanf(s + i + 1, "%2x", &v) == 1) {
            *o++ = (char)v;
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int api_passwords_hook(struct user_record *r, void *opaque, char *err, size_t n)
{
    struct api_passwords *pw = opaque;
    if (r->password_hash)
        return 0; /* the file gave one: nobody needs to be told it */
    char plain[257];
    int len = pw->cfg->import.password_length;
    if (password_generate(len, plain, sizeof(plain), err, n) < 0)
        return -1;
    char *hash = password_hash_rounds(plain, PASSWORD_GENERATED_ROUNDS, err, n);
    if (!hash) {
        explicit_bzero(plain, sizeof(plain));
        return -1;
    }
    r->password_hash = hash;
    put(pw->f, r->record_uid);
    fputc('\t', pw->f);
    put(pw->f, plain);
    fputc('\t', pw->f);
    put(pw->f, r->lastname);
    fputc('\t', pw->f);
    put(pw->f, r->firstname);
    fputc('\t', pw->f);
    for (size_t i = 0; i < r->n_classes; i++) {
        if (i)
            fputc(',', pw->f);
        put(pw->f, r->classes[i]);
    }
    fputc('\n', pw->f);
    explicit_bzero(plain, sizeof(plain));
    if (ferror(pw->f)) {
        snprintf(err, n, "cannot keep the first password: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int api_passwords_close(struct api_passwords *pw, int discard, char *err, size_t n)
{
    int rc = 0;
    if (fflush(pw->f) != 0 || fsync(fileno(pw->f)) != 0) {
        snprintf(err, n, "%s: %s", pw->path, strerror(errno));
        rc = -1;
    }
    fclose(pw->f);
    if (discard)
        unlink(pw->path);
    free(pw->path);
    free(pw);
    return rc;
}

int api_passwords_prune(const struct config *cfg, const char *id, const struct strmap *created,
                        char *err, size_t n)
{
    char *path = path_of(cfg, id);
    char *tmp = xasprintf("%s.tmp", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = -1, fd = -1;
    FILE *in = fopen(path, "r"), *out = NULL;
    if (!in) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(out = fdopen(fd, "w"))) {
        snprintf(err, n, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    while ((len = getline(&line, &cap, in)) > 0) {
        const char *tab = strchr(line, '\t');
        char *uid = take(line, tab ? (size_t)(tab - line) : (size_t)len);
        if (strmap_get(created, uid))
            fwrite(line, 1, (size_t)len, out);
        free(uid);
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || rename(tmp, path) != 0) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (line)
        explicit_bzero(line, cap);
    free(line);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static const char *created_username(const struct api_job_facts *facts, const char *record_uid)
{
    for (size_t i = 0; i < facts->n_created; i++)
        if (strcasecmp(facts->created_uids[i], record_uid) == 0)
            return facts->created_usernames[i];
    return NULL;
}

int api_passwords_csv(const struct config *cfg, const char *id, const struct api_job_facts *facts,
                      FILE *out)
{
    char *path = path_of(cfg, id);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return -1;
    static const char *const head[] = {"username",  "password", "role",   "lastname",
                                       "firstname", "schools",  "classes"};
    csv_write_row(out, head, 7);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *field[5] = {0};
        const char *p = line;
        for (int i = 0; i < 5; i++) {
            const char *tab = i < 4 ? strchr(p, '\t') : NULL;
            size_t fl = tab ? (size_t)(tab - p) : strlen(p);
            field[i] = take(p, fl);
            if (!tab)
                break;
            p = tab + 1;
        }
        const char *user = field[0] ? created_username(facts, field[0]) : NULL;
        if (user && field[4]) {
            const char *row[] = {user,     field[1], role_name(facts->role),
                                 field[2], field[3], facts->school,
                                 field[4]};
            csv_write_row(out, row, 7);
        }
        for (int i = 0; i < 5; i++) {
            if (field[i])
                explicit_bzero(field[i], strlen(field[i]));
            free(field[i]);
        }
    }
    if (line)
        explicit_bzero(line, cap);
    free(line);
    fclose(f);
    return 0;
}
