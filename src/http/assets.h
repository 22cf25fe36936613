/*
 * assets.h - the dashboard page's files, compiled into the binary.
 *
 * CMake (cmake/embed_assets.cmake) turns every file under web/dist/ into
 * one entry of a table in a generated C file (build/generated/
 * http_assets.c); while web/dist/ has no index.html, the placeholder page
 * src/http/placeholder/ is embedded instead. The server (http.c) serves
 * entry "/index.html" at "/" and every other entry at its path
 * ("/assets/app.js" from web/dist/assets/app.js); nothing is read from
 * disk at run time.
 */
#ifndef RN_HTTP_ASSETS_H
#define RN_HTTP_ASSETS_H

#include <stddef.h>

typedef struct rn_http_asset {
    const char *path;           /* "/index.html", "/assets/app.js": "/" + path under web/dist */
    const char *content_type;   /* "text/html; charset=utf-8", ... (by extension) */
    const unsigned char *bytes; /* the file's contents */
    size_t len;                 /* their length */
} rn_http_asset_t;

/* The embedded files, *n of them; static storage, never freed. */
const rn_http_asset_t *rn_http_assets(int *n /* out */);

#endif
