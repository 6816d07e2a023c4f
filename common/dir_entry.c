/*
 * dir_entry: copies of search entries and read-control entries as plain structs.
 */
#include "dir_entry.h"

#include <lber.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

void dir_entry_free(struct dir_entry *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_attrs; i++) {
        for (size_t j = 0; j < e->attrs[i].n; j++)
            free(e->attrs[i].values[j]);
        free(e->attrs[i].values);
        free(e->attrs[i].lens);
        free(e->attrs[i].name);
    }
    free(e->attrs);
    free(e->dn);
    free(e);
}

static struct dir_entry *entry_new(const char *dn, size_t len)
{
    struct dir_entry *e = xcalloc(1, sizeof(*e));
    e->dn = xstrndup(dn ? dn : "", dn ? len : 0);
    return e;
}

/* Appends an attribute with room for n values; returns it. */
static struct dir_attr *add_attr(struct dir_entry *e, const char *name, size_t len, size_t n)
{
    e->attrs = xrealloc(e->attrs, (e->n_attrs + 1) * sizeof(*e->attrs));
    struct dir_attr *a = &e->attrs[e->n_attrs++];
    a->name = xstrndup(name, len);
    a->values = xcalloc(n + 1, sizeof(*a->values));
    a->lens = xcalloc(n + 1, sizeof(*a->lens));
    a->n = 0;
    return a;
}

static void add_value(struct dir_attr *a, const struct berval *bv)
{
    size_t len = bv->bv_val ? bv->bv_len : 0;
    a->values[a->n] = xstrndup(bv->bv_val ? bv->bv_val : "", len);
    a->lens[a->n++] = len;
}

struct dir_entry *dir_entry_from_msg(LDAP *ld, LDAPMessage *msg)
{
    char *dn = ldap_get_dn(ld, msg);
    struct dir_entry *e = entry_new(dn, dn ? strlen(dn) : 0);
    ldap_memfree(dn);
    BerElement *ber = NULL;
    for (char *a = ldap_first_attribute(ld, msg, &ber); a; a = ldap_next_attribute(ld, msg, ber)) {
        struct berval **vals = ldap_get_values_len(ld, msg, a);
        size_t n = 0;
        while (vals && vals[n])
            n++;
        struct dir_attr *attr = add_attr(e, a, strlen(a), n);
        for (size_t i = 0; i < n; i++)
            add_value(attr, vals[i]);
        ldap_value_free_len(vals);
        ldap_memfree(a);
    }
    if (ber)
        ber_free(ber, 0);
    return e;
}

/* The control value is a SearchResultEntry without its tag: {dn {{type [values]}...}}, decoded
 * as OpenLDAP's clients/tools/common.c (print_prepostread) does. */
struct dir_entry *dir_entry_from_control(const LDAPControl *ctrl)
{
    /* ber_init of an empty value leaves a BerElement that ber_scanf dereferences as NULL. */
    if (!ctrl || !ctrl->ldctl_value.bv_val || ctrl->ldctl_value.bv_len == 0)
        return NULL;
    struct berval value = ctrl->ldctl_value, bv;
    BerElement *ber = ber_init(&value); /* copies the value */
    if (!ber)
        return NULL;
    struct dir_entry *e = NULL;
    if (ber_scanf(ber, "{m{" /*}}*/, &bv) == LBER_ERROR)
        goto out;
    e = entry_new(bv.bv_val, bv.bv_len);
    while (ber_scanf(ber, "{m" /*}*/, &bv) != LBER_ERROR) {
        BerVarray vals = NULL;
        if (ber_scanf(ber, "[W]", &vals) == LBER_ERROR) {
            dir_entry_free(e);
            e = NULL;
            goto out;
        }
        size_t n = 0;
        while (vals && vals[n].bv_val)
            n++;
        struct dir_attr *a = add_attr(e, bv.bv_val, bv.bv_len, n);
        for (size_t i = 0; i < n; i++)
            add_value(a, &vals[i]);
        ber_bvarray_free(vals);
    }
out:
    ber_free(ber, 1);
    return e;
}

const struct dir_attr *dir_entry_attr(const struct dir_entry *e, const char *name)
{
    for (size_t i = 0; e && name && i < e->n_attrs; i++) {
        if (strcasecmp(e->attrs[i].name, name) == 0)
            return &e->attrs[i];
    }
    return NULL;
}

const char *dir_entry_value(const struct dir_entry *e, const char *name)
{
    const struct dir_attr *a = dir_entry_attr(e, name);
    return a && a->n ? a->values[0] : NULL;
}

size_t dir_entry_count(const struct dir_entry *e, const char *name)
{
    const struct dir_attr *a = dir_entry_attr(e, name);
    return a ? a->n : 0;
}
