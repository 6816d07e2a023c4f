/*
 * text_norm: trimming, control characters and the UCS@school "umlauts" transliteration.
 */
#include "text_norm.h"

#include <string.h>

#include "strutil.h"
#include "unicode_data.h"

size_t text_norm_utf8_next(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t need;
    uint32_t c;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        need = 1;
        c = u[0] & 0x1F;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        need = 2;
        c = u[0] & 0x0F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        need = 3;
        c = u[0] & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < need + 1) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return need + 1;
}

size_t text_norm_utf8_length(const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len; n++) {
        uint32_t cp;
        i += text_norm_utf8_next(s + i, len - i, &cp);
    }
    return n;
}

bool text_norm_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0;
}

void text_norm_trim_span(const char *s, size_t len, size_t *off, size_t *n)
{
    size_t start = 0, end = len;
    while (start < end) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + start, end - start, &cp);
        if (!text_norm_is_space(cp))
            break;
        start += k;
    }
    /* Walk back over ASCII whitespace and the two bytes of U+00A0 (C2 A0). */
    while (end > start) {
        unsigned char c = (unsigned char)s[end - 1];
        if (c == ' ' || (c >= '\t' && c <= '\r'))
            end--;
        else if (c == 0xA0 && end - start >= 2 && (unsigned char)s[end - 2] == 0xC2)
            end -= 2;
        else
            break;
    }
    *off = start;
    *n = end - start;
}

char *text_norm_trim(char *s)
{
    size_t off, n;
    text_norm_trim_span(s, strlen(s), &off, &n);
    memmove(s, s + off, n);
    s[n] = '\0';
    return s;
}

bool text_norm_is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

ptrdiff_t text_norm_find_control(const char *s, uint32_t *cp)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = text_norm_utf8_next(s + i, len - i, &c);
        if (text_norm_is_control(c)) {
            if (cp)
                *cp = c;
            return (ptrdiff_t)i;
        }
        i += k;
    }
    return -1;
}

bool text_norm_is_printable(const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += text_norm_utf8_next(s + i, len - i, &c);
        if (text_norm_is_control(c) || c == 0xFFFD || c == 0xFEFF || (c >= 0x200B && c <= 0x200F) ||
            c == 0x2028 || c == 0x2029)
            return false;
    }
    return true;
}

/* U+00C0..U+00FF; NULL where the character is no letter (×, ÷). */
static const char *const latin1_fold[64] = {
    "A", "A", "A", "A", "Ae", "A", "AE", "C",  "E", "E", "E", "E", "I",  "I", "I",  "I",
    "D", "N", "O", "O", "O",  "O", "Oe", NULL, "O", "U", "U", "U", "Ue", "Y", "Th", "ss",
    "a", "a", "a", "a", "ae", "a", "ae", "c",  "e", "e", "e", "e", "i",  "i", "i",  "i",
    "d", "n", "o", "o", "o",  "o", "oe", NULL, "o", "u", "u", "u", "ue", "y", "th", "y",
};

/* U+0100..U+017F, one base letter each; '?' marks the ligatures handled separately. */
static const char latin_ext_a_fold[] = "AaAaAaCcCcCcCcDd"
                                       "DdEeEeEeEeEeGgGg"
                                       "GgGgHhHhIiIiIiIi"
                                       "Ii??JjKkkLlLlLlL"
                                       "lLlNnNnNnnNnOoOo"
                                       "Oo??RrRrRrSsSsSs"
                                       "SsTtTtTtUuUuUuUu"
                                       "UuUuWwYyYZzZzZzs";

static const char *const single_letters[] = {
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R",
    "S", "T", "U", "V", "W", "X", "Y", "Z", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
    "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
};

static const char *letter(char c)
{
    if (c >= 'A' && c <= 'Z')
        return single_letters[c - 'A'];
    return single_letters[26 + (c - 'a')];
}

const char *text_norm_ascii_fold(uint32_t cp)
{
    if (cp >= 0xC0 && cp <= 0xFF)
        return latin1_fold[cp - 0xC0];
    if (cp >= 0x100 && cp <= 0x17F) {
        switch (cp) {
        case 0x132:
            return "IJ";
        case 0x133:
            return "ij";
        case 0x152:
            return "OE";
        case 0x153:
            return "oe";
        default:
            return letter(latin_ext_a_fold[cp - 0x100]);
        }
    }
    switch (cp) {
    case 0x218: /* Romanian comma-below letters */
        return "S";
    case 0x219:
        return "s";
    case 0x21A:
        return "T";
    case 0x21B:
        return "t";
    case 0x1E9E: /* capital sharp s */
        return "SS";
    default:
        return NULL;
    }
}

static bool class_char_ok(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' ||
           c == '-' || c == '.' || c == '_';
}

char *text_norm_class_part(const char *s, const char *replacement)
{
    size_t len = strlen(s), rlen = strlen(replacement);
    /* Worst case per input byte: a replacement string, or two ASCII letters for "ä". */
    char *out = xmalloc(len * (rlen + 2) + 1), *o = out;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + i, len - i, &cp);
        const char *fold = text_norm_ascii_fold(cp);
        if (fold) {
            size_t fl = strlen(fold);
            memcpy(o, fold, fl);
            o += fl;
        } else if (cp < 0x80 && class_char_ok((char)cp)) {
            *o++ = (char)cp;
        } else if (rlen > 0) {
            memcpy(o, replacement, rlen);
            o += rlen;
        } else {
            memcpy(o, s + i, k);
            o += k;
        }
        i += k;
    }
    *o = '\0';
    return out;
}

char *text_norm_umlauts(const char *s)
{
    size_t len = strlen(s);
    /* Every non-ASCII character has at least two bytes and becomes at most
     * UNICODE_NFKD_ASCII_MAX (or two folded) ASCII characters. */
    char *out = xmalloc(len * (UNICODE_NFKD_ASCII_MAX / 2) + 1), *o = out;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + i, len - i, &cp);
        const char *fold = text_norm_ascii_fold(cp);
        if (fold) {
            size_t fl = strlen(fold);
            memcpy(o, fold, fl);
            o += fl;
        } else {
            o += unicode_nfkd_ascii(cp, o);
        }
        i += k;
    }
    *o = '\0';
    return out;
}
