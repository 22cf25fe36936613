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

bool rn_text_parse_size(const char *s, size_t *bytes)
{
    const char *p = s;
    double v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) v = v * 10 + (*p - '0');
    if (*p == '.') {
        double scale = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++, scale /= 10) v += (*p - '0') * scale;
    }
    if (!digits) return false;
    while (*p == ' ') p++;
    static const struct {
        const char *unit;
        double factor;
    } units[] = {{"", 1}, {"b", 1}, {"k", 1024.0}, {"kb", 1024.0}, {"kib", 1024.0},
                 {"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0},
                 {"gb", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0},
                 {"tb", 1099511627776.0}, {"tib", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcasecmp(p, units[i].unit)) continue;
        double b = v * units[i].factor;
        if (b < 1 || b > 1e18) return false;
        *bytes = (size_t)b;
        return true;
    }
    return false;
}
