/*
 * gen_data.h - the static word lists behind the scenario generator.
 *
 * The Python originals of the scenarios used Faker with the ru_RU locale:
 * Russian names, e-mail addresses made from transliterated names, a fixed
 * set of 100 site URLs, restaurant promotions. These tables give gen.c the
 * same flavour without a dependency. Every string is UTF-8, contains no
 * character that needs escaping in JSON (no '"', '\\' or control bytes), and
 * is constant: nothing here is allocated or freed.
 */
#ifndef RN_GEN_DATA_H
#define RN_GEN_DATA_H

#include <stddef.h>

/* A first name in Cyrillic and its Latin transliteration (for e-mails). */
typedef struct rn_gen_first {
    const char *ru;  /* "Иван" */
    const char *lat; /* "ivan" */
} rn_gen_first_t;

/* A surname in both genders, Cyrillic and transliterated. */
typedef struct rn_gen_last {
    const char *ru_m;  /* "Петров" */
    const char *ru_f;  /* "Петрова" */
    const char *lat_m; /* "petrov" */
    const char *lat_f; /* "petrova" */
} rn_gen_last_t;

extern const rn_gen_first_t rn_gen_male_first[];
extern const size_t rn_gen_male_first_n;
extern const rn_gen_first_t rn_gen_female_first[];
extern const size_t rn_gen_female_first_n;
extern const rn_gen_last_t rn_gen_last[];
extern const size_t rn_gen_last_n;

/* E-mail domains, most common first ("mail.ru", "yandex.ru", ...). */
extern const char *const rn_gen_email_domains[];
extern const size_t rn_gen_email_domains_n;

/* Exactly 100 site paths, each starting with '/'; index 0 is "/home". */
#define RN_GEN_NPATHS 100
extern const char *const rn_gen_url_paths[RN_GEN_NPATHS];
/* Host names that turn a path into a full https URL (s3). */
extern const char *const rn_gen_url_hosts[];
extern const size_t rn_gen_url_hosts_n;

/* Restaurant names for s4, one per restaurant (at least 20). */
extern const char *const rn_gen_restaurants[];
extern const size_t rn_gen_restaurants_n;
/* Campaign texts in Russian; gen.c prefixes the restaurant name. */
extern const char *const rn_gen_campaign_texts[];
extern const size_t rn_gen_campaign_texts_n;

#endif
