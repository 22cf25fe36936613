/*
 * text.c - string helpers; see text.h.
 */
#include "core/text.h"

#include <string.h>
#include <strings.h>

int rn_text_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *rn_text_topic_invalid(const char *name, size_t n)
{
    if (n == 0) return "a topic name cannot be empty";
    if (n > 249) return "a topic name has at most 249 characters";
    if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
        return "a topic name cannot be '.' or '..'";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return "a topic name may only contain ASCII letters, digits, '.', '_' and '-'";
    }
    return NULL;
}

bool rn_text_secret_key(const char *key, size_t n)
{
    static const char *const words[] = {"password", "secret", "sasl.jaas", "key.pem", "ssl.key"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (!strncasecmp(key + i, words[w], wl)) return true;
    }
    return false;
}
