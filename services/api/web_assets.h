/*
 * web_assets: the web page's files (services/api/web/) and the API's own documents
 * (openapi.json, docs.html), compiled into the program by embed_web.cmake.
 */
#ifndef SISOPI_API_WEB_ASSETS_H
#define SISOPI_API_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name; /* the file name, no directory: "app.js" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

/* web_assets_count entries, then one of NULLs. */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

/* The asset named name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif
