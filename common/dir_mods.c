/*
 * dir_mods: LDAPMod arrays built from copied strings, freed in one place.
 */
#include "dir_mods.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

struct dir_mods {
    LDAPMod **mods; /* NULL-terminated */
    size_t n, cap;
};

struct dir_mods *dir_mods_new(void)
{
    struct dir_mods *m = xcalloc(1, sizeof(*m));
    m->cap = 8;
    m->mods = xcalloc(m->cap + 1, sizeof(*m->mods));
    return m;
}

/* An attribute description: a descr or numeric OID, then options (";binary", ";lang-de"). */
static bool valid_attr(const char *a)
{
    if (!a || !*a || strlen(a) > 128)
        return false;
    for (const char *p = a; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == ';' || c == '.'))
            return false;
    }
    return true;
}

static size_t n_values(const LDAPMod *mod)
{
    size_t n = 0;
    while (mod->mod_bvalues && mod->mod_bvalues[n])
        n++;
    return n;
}

/* Appends copies of values[0..n) to mod's value array. */
static void append_values(LDAPMod *mod, const char *const *values, size_t n)
{
    if (n == 0)
        return;
    size_t have = n_values(mod);
    mod->mod_bvalues = xrealloc(mod->mod_bvalues, (have + n + 1) * sizeof(*mod->mod_bvalues));
    for (size_t i = 0; i < n; i++) {
        struct berval *bv = xmalloc(sizeof(*bv));
        bv->bv_len = strlen(values[i]);
        bv->bv_val = xstrndup(values[i], bv->bv_len);
        mod->mod_bvalues[have + i] = bv;
    }
    mod->mod_bvalues[have + n] = NULL;
}

int dir_mods_add(struct dir_mods *m, int op, const char *attr, const char *const *values, size_t n)
{
    if (!m || !valid_attr(attr) || (n > 0 && !values))
        return -EINVAL;
    if (op != LDAP_MOD_ADD && op != LDAP_MOD_REPLACE && op != LDAP_MOD_DELETE &&
        op != LDAP_MOD_INCREMENT)
        return -EINVAL;
    if ((op == LDAP_MOD_ADD && n == 0) || (op == LDAP_MOD_INCREMENT && n != 1))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            return -EINVAL;
    }
    if (op == LDAP_MOD_ADD) {
        for (size_t i = m->n; i-- > 0;) {
            LDAPMod *prev = m->mods[i];
            if (strcasecmp(prev->mod_type, attr) != 0)
                continue;
            if ((prev->mod_op & ~LDAP_MOD_BVALUES) == LDAP_MOD_ADD) {
                append_values(prev, values, n);
                return 0;
            }
            break;
        }
    }
    if (m->n == m->cap) {
        m->cap *= 2;
        m->mods = xrealloc(m->mods, (m->cap + 1) * sizeof(*m->mods));
    }
    LDAPMod *mod = xcalloc(1, sizeof(*mod));
    mod->mod_op = op | LDAP_MOD_BVALUES;
    mod->mod_type = xstrdup(attr);
    append_values(mod, values, n);
    m->mods[m->n++] = mod;
    m->mods[m->n] = NULL;
    return 0;
}

int dir_mods_add1(struct dir_mods *m, int op, const char *attr, const char *value)
{
    const char *v[1] = {value};
    return dir_mods_add(m, op, attr, v, value ? 1 : 0);
}

size_t dir_mods_count(const struct dir_mods *m)
{
    return m ? m->n : 0;
}

LDAPMod **dir_mods_array(const struct dir_mods *m)
{
    return m ? m->mods : NULL;
}

static bool is_value_delete(const LDAPMod *mod)
{
    return (mod->mod_op & ~LDAP_MOD_BVALUES) == LDAP_MOD_DELETE && n_values(mod) > 0;
}

LDAPMod **dir_mods_array_permissive(const struct dir_mods *m)
{
    if (!m)
        return NULL;
    size_t extra = 0, k = 0;
    for (size_t i = 0; i < m->n; i++)
        extra += is_value_delete(m->mods[i]);
    /* One block: the pointer array, then the inserted ADDs. */
    size_t n_ptr = m->n + extra + 1;
    LDAPMod **out = xcalloc(1, n_ptr * sizeof(*out) + extra * sizeof(LDAPMod));
    LDAPMod *add = (LDAPMod *)(out + n_ptr);
    for (size_t i = 0; i < m->n; i++) {
        if (is_value_delete(m->mods[i])) {
            *add = *m->mods[i]; /* shares type and values */
            add->mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
            out[k++] = add++;
        }
        out[k++] = m->mods[i];
    }
    out[k] = NULL;
    return out;
}

void dir_mods_destroy(struct dir_mods *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        LDAPMod *mod = m->mods[i];
        for (size_t j = 0; mod->mod_bvalues && mod->mod_bvalues[j]; j++) {
            free(mod->mod_bvalues[j]->bv_val);
            free(mod->mod_bvalues[j]);
        }
        free(mod->mod_bvalues);
        free(mod->mod_type);
        free(mod);
    }
    free(m->mods);
    free(m);
}
