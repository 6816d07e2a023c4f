/*
 * dir_layout: DN construction and the fixed values of sisopi's directory layout.
 * (A configuration value read here goes into the reconciler's record digests too:
 * services/reconciler/record_digest.c.)
 */
#include "dir_layout.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldap.h>

#include "dir_escape.h"
#include "strutil.h"

static char *lower_ascii(const char *s)
{
    char *l = xstrdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

char *layout_school_dn(const struct config *cfg, const char *school)
{
    char *s = dir_escape_dn_value(school);
    char *dn = xconcat("ou=", s, ",", cfg->ldap.base, NULL);
    free(s);
    return dn;
}

char *layout_users_container_dn(const struct config *cfg, const char *school, enum role role)
{
    char *ou = layout_school_dn(cfg, school);
    char *c = dir_escape_dn_value(cfg->ldap.users_container[role]);
    char *dn = xconcat("cn=", c, ",cn=users,", ou, NULL);
    free(c);
    free(ou);
    return dn;
}

char *layout_user_dn(const struct config *cfg, const char *uid, const char *school, enum role role)
{
    char *container = layout_users_container_dn(cfg, school, role);
    char *u = dir_escape_dn_value(uid);
    char *dn = xconcat("uid=", u, ",", container, NULL);
    free(u);
    free(container);
    return dn;
}

static char *group_dn(const struct config *cfg, const char *school, const char *cn)
{
    char *ou = layout_school_dn(cfg, school);
    char *c = dir_escape_dn_value(cn);
    char *dn = xconcat("cn=", c, ",cn=groups,", ou, NULL);
    free(c);
    free(ou);
    return dn;
}

char *layout_domain_users_dn(const struct config *cfg, const char *school)
{
    char *cn = xconcat("Domain Users ", school, NULL);
    char *dn = group_dn(cfg, school, cn);
    free(cn);
    return dn;
}

size_t layout_role_group_dns(const struct config *cfg, const char *school, enum role role,
                             char *out[2])
{
    static const char *const prefix[ROLE_COUNT][2] = {
        [ROLE_STUDENT] = {"schueler", NULL},
        [ROLE_TEACHER] = {"lehrer", NULL},
        [ROLE_STAFF] = {"mitarbeiter", NULL},
        [ROLE_TEACHER_AND_STAFF] = {"lehrer", "mitarbeiter"},
    };
    char *lower = lower_ascii(school);
    size_t n = 0;
    for (int i = 0; i < 2 && prefix[role][i]; i++) {
        char *cn = xconcat(prefix[role][i], "-", lower, NULL);
        out[n++] = group_dn(cfg, school, cn);
        free(cn);
    }
    free(lower);
    return n;
}

char *layout_class_dn(const struct config *cfg, const char *school, const char *klass)
{
    char *ou = layout_school_dn(cfg, school);
    char *c = dir_escape_dn_value(klass);
    char *dn = xconcat("cn=", c, ",cn=klassen,cn=schueler,cn=groups,", ou, NULL);
    free(c);
    free(ou);
    return dn;
}

char *layout_counter_dn(const struct config *cfg, const char *store, const char *key)
{
    char *k = dir_escape_dn_value(key);
    char *dn = xasprintf("cn=%s,cn=%s,cn=ucsschool,cn=univention,%s", k, store, cfg->ldap.base);
    free(k);
    return dn;
}

char *layout_class_school(const char *klass)
{
    const char *dash = strchr(klass, '-');
    return dash ? xstrndup(klass, (size_t)(dash - klass)) : xstrdup(klass);
}

size_t layout_role_values(enum role role, const char *school, char *out[2])
{
    switch (role) {
    case ROLE_STUDENT:
        out[0] = xasprintf("student:school:%s", school);
        return 1;
    case ROLE_TEACHER:
        out[0] = xasprintf("teacher:school:%s", school);
        return 1;
    case ROLE_STAFF:
        out[0] = xasprintf("staff:school:%s", school);
        return 1;
    case ROLE_TEACHER_AND_STAFF:
        out[0] = xasprintf("teacher:school:%s", school);
        out[1] = xasprintf("staff:school:%s", school);
        return 2;
    }
    return 0;
}

const char *const *layout_user_object_classes(enum role role)
{
    static const char *const oc[ROLE_COUNT][8] = {
        [ROLE_STUDENT] = {"inetOrgPerson", "shadowAccount", "sisopiPerson", "ucsschoolStudent",
                          NULL},
        [ROLE_TEACHER] = {"inetOrgPerson", "shadowAccount", "sisopiPerson", "ucsschoolTeacher",
                          NULL},
        [ROLE_STAFF] = {"inetOrgPerson", "shadowAccount", "sisopiPerson", "ucsschoolStaff", NULL},
        [ROLE_TEACHER_AND_STAFF] = {"inetOrgPerson", "shadowAccount", "sisopiPerson",
                                    "ucsschoolTeacher", "ucsschoolStaff", NULL},
    };
    return oc[role];
}

void layout_generalized_time(int64_t unix_ms, char out[16])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%SZ", &tm);
}

int layout_parse_generalized_time(const char *s, int64_t *unix_ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strlen(s) < 15)
        return -1;
    for (int i = 0; i < 14; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
    }
    if (sscanf(s, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    const char *tz = s + 14;
    if (*tz == '.' || *tz == ',') {
        tz++;
        while (isdigit((unsigned char)*tz))
            tz++;
    }
    if (strcmp(tz, "Z") != 0 && strcmp(tz, "+0000") != 0 && strcmp(tz, "-0000") != 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *unix_ms = (int64_t)t * 1000;
    return 0;
}

int layout_group_parts(const char *dn, char **cn, char **school)
{
    LDAPDN parsed = NULL;
    *cn = *school = NULL;
    if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return -1;
    for (int i = 0; parsed[i]; i++) {
        LDAPAVA *ava = parsed[i][0];
        if (i == 0)
            *cn = xstrndup(ava->la_value.bv_val, ava->la_value.bv_len);
        else if (!*school && ava->la_attr.bv_len == 2 &&
                 strncasecmp(ava->la_attr.bv_val, "ou", 2) == 0)
            *school = xstrndup(ava->la_value.bv_val, ava->la_value.bv_len);
    }
    ldap_dnfree(parsed);
    if (*cn && *school)
        return 0;
    free(*cn);
    free(*school);
    *cn = *school = NULL;
    return -1;
}

bool layout_managed_group(const struct config *cfg, const char *dn, enum role role)
{
    char *cn, *school;
    if (layout_group_parts(dn, &cn, &school) < 0)
        return false;
    bool managed = strcasestr(dn, ",cn=klassen,cn=schueler,cn=groups,ou=") != NULL;
    char *g[3];
    size_t ng = layout_role_group_dns(cfg, school, role, g);
    g[ng++] = layout_domain_users_dn(cfg, school);
    for (size_t i = 0; i < ng; i++) {
        managed |= dir_dn_equal(g[i], dn);
        free(g[i]);
    }
    free(cn);
    free(school);
    return managed;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t layout_person_groups(const struct config *cfg, const struct person *p, char ***out)
{
    size_t n = 0, cap = 8;
    char **g = xcalloc(cap, sizeof(char *));
    for (size_t s = 0; !p->limbo && s < p->n_schools; s++) {
        const char *school = p->schools[s];
        ssize_t ci = -1;
        for (size_t k = 0; k < p->n_classes && ci < 0; k++)
            ci = strcasecmp(p->classes[k].school, school) == 0 ? (ssize_t)k : -1;
        size_t need = n + 3 + (ci >= 0 ? p->classes[ci].n_classes : 0);
        if (need > cap) {
            cap = 2 * need;
            g = xrealloc(g, cap * sizeof(char *));
        }
        g[n++] = layout_domain_users_dn(cfg, school);
        n += layout_role_group_dns(cfg, school, p->role, &g[n]);
        for (size_t c = 0; ci >= 0 && c < p->classes[ci].n_classes; c++)
            g[n++] = layout_class_dn(cfg, school, p->classes[ci].classes[c]);
    }
    qsort(g, n, sizeof(char *), cmp_strp);
    *out = g;
    return n;
}
