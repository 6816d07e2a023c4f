/*
 * web_assets: a linear search; there are a handful of files.
 */
#include "web_assets.h"

#include <string.h>

const struct web_asset *web_asset_find(const char *name)
{
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].name, name) == 0)
            return &web_assets[i];
    return NULL;
}
