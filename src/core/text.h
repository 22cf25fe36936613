/*
 * text.h - small string helpers shared by the SQL analyzer and option
 * parsing ("did you mean" hints).
 */
#ifndef RN_TEXT_H
#define RN_TEXT_H

/* Levenshtein distance between a and b; strings longer than 64 bytes
 * count as far apart (returns 99). */
int rn_text_distance(const char *a, const char *b);

#endif
