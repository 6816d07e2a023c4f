/*
 * api_json: the one JSON body the API reads, a login: {"username": "...", "password": "..."}.
 * Strings only (\\uXXXX escapes of the Basic Multilingual Plane), other keys ignored, nothing
 * after the object; anything else is refused.
 */
#ifndef SISOPI_API_JSON_H
#define SISOPI_API_JSON_H

#include <stddef.h>

/* Fills user (un bytes) and pass (pn bytes; "" when absent). 0, or -1 for a body that is not
 * such an object or a value that does not fit. The caller wipes pass. */
int api_json_login(const char *body, char *user, size_t un, char *pass, size_t pn);

#endif
