/*
 * text_norm: the small UTF-8 text rules the CSV import applies to every value: trimming,
 * control-character checks, and the "umlauts" transliteration of UCS@school (ä -> ae, é -> e).
 *
 * All functions expect valid UTF-8 (the CSV reader guarantees it) and never allocate unless
 * they say so; an invalid byte is treated as one character U+FFFD, never read past the NUL.
 */
#ifndef SISOPI_TEXT_NORM_H
#define SISOPI_TEXT_NORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s[0..len) into *cp; returns its length in bytes (1..4, or 1 for an
 * invalid byte, which yields U+FFFD). len must be > 0. */
size_t text_norm_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Number of characters (code points) of a NUL-terminated UTF-8 string. */
size_t text_norm_utf8_length(const char *s);

/* True for the whitespace the import trims: ASCII space, \t \n \v \f \r, and U+00A0. */
bool text_norm_is_space(uint32_t cp);

/* The span of s[0..len) without leading and trailing whitespace: *off and *n. */
void text_norm_trim_span(const char *s, size_t len, size_t *off, size_t *n);

/* Trims a NUL-terminated string in place; returns s. */
char *text_norm_trim(char *s);

/* True for C0 controls, DEL and the C1 controls U+0080..U+009F. */
bool text_norm_is_control(uint32_t cp);

/* Byte offset of the first control character in s (see above), or -1. *cp (if not NULL)
 * receives it. */
ptrdiff_t text_norm_find_control(const char *s, uint32_t *cp);

/* True if s is non-empty and holds only printable characters: no control character, no
 * byte order mark, zero-width or line/paragraph separator (U+200B..U+200F, U+2028, U+2029,
 * U+FEFF). Record UIDs must pass this: they are keys everywhere. */
bool text_norm_is_printable(const char *s);

/* The ASCII spelling of a Latin letter with a diacritic ("ae" for U+00E4, "e" for U+00E9,
 * "ss" for U+00DF), or NULL if cp has none (ASCII itself returns NULL too). */
const char *text_norm_ascii_fold(uint32_t cp);

/*
 * UCS@school's "umlauts" scheme command (username schemes always apply it): Latin letters with
 * a diacritic become ASCII as text_norm_ascii_fold() spells them (ä -> ae, ß -> ss, ł -> l);
 * every other non-ASCII character becomes the ASCII part of its compatibility decomposition,
 * as the reference's NFKD does (ế -> e, U+FB01 -> fi, U+00A0 -> " "), or disappears (Cyrillic,
 * combining marks, ×). ASCII stays as it is. Returns a malloc'd string the caller frees.
 */
char *text_norm_umlauts(const char *s);

/*
 * UCS@school's normalisation of a school or class name part: umlauts and other Latin letters
 * with diacritics become ASCII, then every character outside [0-9A-Za-z -._] becomes
 * `replacement` ("" keeps the character). Returns a malloc'd string the caller frees.
 */
char *text_norm_class_part(const char *s, const char *replacement);

#endif
