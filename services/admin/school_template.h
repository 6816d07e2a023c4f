/*
 * school_template: what a school looks like in the directory, from the one template
 * deploy/ldap/school.ldif.in (compiled in), and the rules for a school's name. Pure: no
 * directory, no config file; sisopi-admin school (school.c) does the I/O.
 */
#ifndef SISOPI_ADMIN_SCHOOL_TEMPLATE_H
#define SISOPI_ADMIN_SCHOOL_TEMPLATE_H

#include <stddef.h>

/* deploy/ldap/school.ldif.in as it was at build time (generated: school_ldif.c). */
extern const char school_ldif_template[];

/*
 * A name `school create` accepts: 1..64 ASCII letters, digits, "_" and "-", starting and
 * ending with a letter or digit (the rule deploy/stack.sh always applied), so that DNs, group
 * names and filters never see a special character. A name equal to limbo_ou in any case is
 * refused too: the limbo OU is not a school one may create. 0, or -1 with err saying why.
 */
int school_name_check(const char *name, const char *limbo_ou, char *err, size_t n);

/* A display name: 1..256 bytes of valid UTF-8 without control characters and without
 * leading or trailing spaces. 0, or -1 with err. */
int school_display_name_check(const char *s, char *err, size_t n);

/* What the placeholders of the template stand for. */
struct school_params {
    const char *name;         /* @SCHOOL@ (and @school_lower@, its lower-case form) */
    const char *display_name; /* @DISPLAY_NAME@; NULL: the name */
    const char *base;         /* @BASE@, a DN */
    /* @CONTAINER_STUDENT@, @CONTAINER_TEACHER@, @CONTAINER_STAFF@,
     * @CONTAINER_TEACHER_AND_STAFF@: ldap.containers of the config (enum role order). */
    const char *containers[4];
};

/* One entry: its DN and its attribute values, in the template's order. */
struct school_entry {
    char *dn;
    char **attrs, **values; /* n pairs: attrs[i]: values[i] */
    size_t n;
};

/* Every entry of a school, parents before children (the template's order). */
struct school_entries {
    struct school_entry *v;
    size_t n;
};

/*
 * Fills out from template (an LDIF text: "#" comments, "dn: ..." then "attr: value" lines,
 * entries separated by blank lines; no folding, no base64) with the placeholders replaced:
 * escaped as DN values (RFC 4514) in DNs, as they are in attribute values. A placeholder
 * without a value, a line that is not "attr: value" or an entry without DN is an error.
 * 0, or -1 with err (out empty). The caller frees out with school_entries_free.
 */
int school_entries_build(const char *template_text, const struct school_params *p,
                         struct school_entries *out, char *err, size_t n);

void school_entries_free(struct school_entries *e);

#endif
