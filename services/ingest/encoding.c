/*
 * encoding: one validating pass over the file decides the encoding (the rules are in the
 * header); the decoder then streams UTF-8 out of it in bounded memory.
 */
#include "encoding.h"

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strutil.h"

#define SCAN_CHUNK        65536
#define UTF16_SNIFF_BYTES 8192
#define RAW_SIZE          16384

const char *encoding_name(enum encoding e)
{
    switch (e) {
    case ENCODING_UTF8:
        return "UTF-8";
    case ENCODING_UTF8_BOM:
        return "UTF-8 with BOM";
    case ENCODING_UTF16LE:
        return "UTF-16LE";
    case ENCODING_UTF16BE:
        return "UTF-16BE";
    case ENCODING_LATIN1:
        return "ISO-8859-1";
    case ENCODING_DECLARED:
        return "declared";
    }
    return "?";
}

struct pos {
    int64_t line, character, offset;
};

/* State of the validating pass: position, UTF-8 decoder state and the first of each finding. */
struct scan {
    int64_t offset, line, character;
    bool prev_cr;
    int need, seq_len;
    unsigned char lo, hi, lead;
    struct pos lead_pos;
    int64_t multi;
    struct pos first_multi;
    bool invalid;
    struct pos bad;
    char bad_what[200];
    bool c1;
    unsigned char c1_byte;
    struct pos c1_pos;
    bool nul;
    struct pos nul_pos;
    size_t nul_even, nul_odd;
};

__attribute__((format(printf, 3, 4))) static void set_bad(struct scan *s, const struct pos *p,
                                                          const char *fmt, ...)
{
    if (s->invalid)
        return;
    s->invalid = true;
    s->bad = *p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->bad_what, sizeof(s->bad_what), fmt, ap);
    va_end(ap);
}

static void utf8_lead(struct scan *s, unsigned char b, const struct pos *here)
{
    s->lead = b;
    s->lead_pos = *here;
    s->lo = 0x80;
    s->hi = 0xBF;
    s->seq_len = 1;
    if (b < 0x80)
        return;
    if (b >= 0xC2 && b <= 0xDF) {
        s->need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        s->need = 2;
        s->lo = b == 0xE0 ? 0xA0 : 0x80;
        s->hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        s->need = 3;
        s->lo = b == 0xF0 ? 0x90 : 0x80;
        s->hi = b == 0xF4 ? 0x8F : 0xBF;
    } else if (b == 0xC0 || b == 0xC1) {
        set_bad(s, here, "overlong UTF-8 sequence (lead byte 0x%02X)", b);
    } else if (b <= 0xBF) {
        set_bad(s, here, "invalid UTF-8: continuation byte 0x%02X without a lead byte", b);
    } else {
        set_bad(s, here, "invalid UTF-8: byte 0x%02X never occurs in UTF-8", b);
    }
}

static void utf8_broken(struct scan *s, unsigned char b)
{
    unsigned char l = s->lead;
    bool second = s->seq_len == 1;
    if (second && ((l == 0xE0 && b >= 0x80 && b < 0xA0) || (l == 0xF0 && b >= 0x80 && b < 0x90)))
        set_bad(s, &s->lead_pos, "overlong UTF-8 sequence (0x%02X 0x%02X)", l, b);
    else if (second && l == 0xED && b >= 0xA0 && b <= 0xBF)
        set_bad(s, &s->lead_pos, "invalid UTF-8: an encoded UTF-16 surrogate (0x%02X 0x%02X)", l,
                b);
    else if (second && l == 0xF4 && b >= 0x90 && b <= 0xBF)
        set_bad(s, &s->lead_pos, "invalid UTF-8: a code point above U+10FFFF");
    else
        set_bad(s, &s->lead_pos,
                "invalid UTF-8: byte 0x%02X is not followed by its continuation bytes", l);
    s->need = 0;
}

static void scan_byte(struct scan *s, unsigned char b)
{
    if (b >= 0x80 && b <= 0x9F && !s->c1) {
        s->c1 = true;
        s->c1_byte = b;
        s->c1_pos = (struct pos){s->line, s->character + 1, s->offset};
    }
    if (s->need > 0) {
        if (b >= s->lo && b <= s->hi) {
            s->lo = 0x80;
            s->hi = 0xBF;
            s->seq_len++;
            if (--s->need == 0 && s->multi++ == 0)
                s->first_multi = s->lead_pos;
            s->offset++;
            return;
        }
        utf8_broken(s, b); /* and b starts a new character */
    }
    s->character++;
    struct pos here = {s->line, s->character, s->offset};
    if (b == 0) {
        if (!s->nul) {
            s->nul = true;
            s->nul_pos = here;
        }
        if (s->offset < UTF16_SNIFF_BYTES)
            *(s->offset % 2 ? &s->nul_odd : &s->nul_even) += 1;
    }
    utf8_lead(s, b, &here);
    if (b == '\n' || b == '\r') {
        if (!(b == '\n' && s->prev_cr))
            s->line++;
        s->character = 0;
    }
    s->prev_cr = b == '\r';
    s->offset++;
}

__attribute__((format(printf, 3, 4))) static int fail(struct encoding_problem *prob,
                                                      const struct pos *p, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    prob->line = p ? p->line : 0;
    prob->character = p ? p->character : 0;
    prob->offset = p ? p->offset : 0;
    if (p)
        snprintf(prob->message, sizeof(prob->message), "character %" PRId64 ": %s", p->character,
                 what);
    else
        snprintf(prob->message, sizeof(prob->message), "%s", what);
    return -1;
}

/* The verdict on a file without BOM, once every byte was seen. */
static int decide(const struct scan *s, bool bom, enum encoding *enc, struct encoding_problem *prob)
{
    if (s->nul) {
        size_t nuls = s->nul_even + s->nul_odd;
        size_t sniffed = s->offset < UTF16_SNIFF_BYTES ? (size_t)s->offset : UTF16_SNIFF_BYTES;
        if (!bom && nuls * 4 >= sniffed && (s->nul_even == 0 || s->nul_odd == 0))
            return fail(prob, &s->nul_pos,
                        "NUL bytes at every second position: this looks like %s without a byte "
                        "order mark; export the file as UTF-8, or as UTF-16 with a BOM",
                        s->nul_odd ? "UTF-16LE" : "UTF-16BE");
        return fail(prob, &s->nul_pos, "NUL byte: this is not a text file");
    }
    if (bom) {
        if (s->invalid)
            return fail(prob, &s->bad, "%s, in a file that starts with a UTF-8 byte order mark",
                        s->bad_what);
        *enc = ENCODING_UTF8_BOM;
        return 0;
    }
    if (!s->invalid) {
        *enc = ENCODING_UTF8;
        return 0;
    }
    if (s->multi > 0)
        return fail(prob, &s->bad,
                    "%s, but line %" PRId64 " has valid UTF-8: the file mixes encodings; re-save "
                    "it as UTF-8",
                    s->bad_what, s->first_multi.line);
    if (s->c1)
        return fail(prob, &s->c1_pos,
                    "byte 0x%02X is not UTF-8 and is no character in ISO-8859-1 either: the "
                    "file is probably Windows-1252, CP850 or Mac Roman; re-save it as UTF-8, "
                    "or name its encoding in import.csv.encoding (e.g. \"WINDOWS-1252\")",
                    s->c1_byte);
    *enc = ENCODING_LATIN1;
    return 0;
}

/* With import.csv.encoding set: the declaration wins over the guesses, but not over what the
 * bytes prove. A byte order mark, NUL bytes, or a file that is valid UTF-8 with non-ASCII
 * characters is not in a single-byte encoding: decoding it as one would garble every name. */
static int check_declared(const struct scan *s, const char *bom_name, const char *declared,
                          enum encoding *enc, struct encoding_problem *prob)
{
    if (bom_name)
        return fail(prob, NULL,
                    "the file starts with a %s byte order mark: it is %s, not %s as "
                    "import.csv.encoding says (set it to \"auto\" for such exports)",
                    bom_name, bom_name, declared);
    if (s->nul)
        return fail(prob, &s->nul_pos, "NUL byte: this is not a text file in %s", declared);
    if (!s->invalid && s->multi > 0)
        return fail(prob, &s->first_multi,
                    "the file is valid UTF-8 with non-ASCII characters (this is the first), "
                    "not %s as import.csv.encoding says: decoded as %s every such name would be "
                    "garbled; re-export it as %s, or set import.csv.encoding to \"auto\"",
                    declared, declared, declared);
    *enc = ENCODING_DECLARED;
    return 0;
}

int encoding_detect(int fd, const char *declared, enum encoding *enc, size_t *bom_len,
                    struct encoding_problem *prob)
{
    unsigned char *buf = xmalloc(SCAN_CHUNK);
    struct scan s = {.line = 1};
    int rc = -1;
    ssize_t n = pread(fd, buf, 4, 0);
    if (n < 0) {
        fail(prob, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    *bom_len = 0;
    bool bom = false;
    if (n >= 4 && ((buf[0] == 0xFF && buf[1] == 0xFE && buf[2] == 0 && buf[3] == 0) ||
                   (buf[0] == 0 && buf[1] == 0 && buf[2] == 0xFE && buf[3] == 0xFF))) {
        fail(prob, NULL, "the file is UTF-32 (byte order mark); export it as UTF-8");
        goto out;
    }
    if (n >= 2 && (buf[0] == 0xFF || buf[0] == 0xFE) && buf[1] == (buf[0] ^ 0x01)) {
        if (declared) {
            rc = check_declared(&s, buf[0] == 0xFF ? "UTF-16LE" : "UTF-16BE", declared, enc, prob);
            goto out;
        }
        *enc = buf[0] == 0xFF ? ENCODING_UTF16LE : ENCODING_UTF16BE;
        *bom_len = 2;
        rc = 0; /* UTF-16 is validated while it is decoded */
        goto out;
    }
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) {
        bom = true;
        *bom_len = 3;
    }
    int64_t off = (int64_t)*bom_len;
    s.offset = off;
    while ((n = pread(fd, buf, SCAN_CHUNK, off)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            scan_byte(&s, buf[i]);
        off += n;
    }
    if (n < 0) {
        fail(prob, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (s.need > 0)
        set_bad(&s, &s.lead_pos, "invalid UTF-8: the file ends inside a multi-byte character");
    rc = declared ? check_declared(&s, bom ? "UTF-8" : NULL, declared, enc, prob)
                  : decide(&s, bom, enc, prob);
out:
    explicit_bzero(buf, SCAN_CHUNK);
    free(buf);
    return rc;
}

struct encoding_decoder {
    int fd;
    enum encoding enc;
    int64_t offset;  /* of the next byte to read from the file */
    int64_t decoded; /* of the first byte in raw (UTF-16) */
    bool eof;
    iconv_t cd;
    char name[64]; /* for messages: "UTF-16LE", or the declared name */
    unsigned char raw[RAW_SIZE];
    size_t raw_len;
};

struct encoding_decoder *encoding_decoder_new(int fd, enum encoding enc, const char *declared,
                                              size_t start)
{
    struct encoding_decoder *d = xcalloc(1, sizeof(*d));
    d->fd = fd;
    d->enc = enc;
    d->offset = d->decoded = (int64_t)start;
    d->cd = (iconv_t)-1;
    snprintf(d->name, sizeof(d->name), "%s",
             enc == ENCODING_DECLARED && declared ? declared : encoding_name(enc));
    /* glibc always has UTF-16; a declared name was checked when the config was loaded. A
     * failure here is reported on the first read. */
    if (enc == ENCODING_UTF16LE || enc == ENCODING_UTF16BE || enc == ENCODING_DECLARED)
        d->cd = iconv_open("UTF-8", enc == ENCODING_UTF16LE   ? "UTF-16LE"
                                    : enc == ENCODING_UTF16BE ? "UTF-16BE"
                                                              : d->name);
    return d;
}

static ssize_t read_raw(struct encoding_decoder *d, void *to, size_t n, char *errstr,
                        size_t errstr_size)
{
    ssize_t got = pread(d->fd, to, n, d->offset);
    if (got < 0) {
        snprintf(errstr, errstr_size, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (got == 0)
        d->eof = true;
    d->offset += got;
    return got;
}

static ssize_t read_latin1(struct encoding_decoder *d, unsigned char *out, size_t cap, char *errstr,
                           size_t errstr_size)
{
    size_t want = cap / 2 < RAW_SIZE ? cap / 2 : RAW_SIZE;
    ssize_t got = read_raw(d, d->raw, want, errstr, errstr_size);
    if (got <= 0)
        return got;
    size_t o = 0;
    for (ssize_t i = 0; i < got; i++) {
        unsigned char b = d->raw[i];
        if (b < 0x80) {
            out[o++] = b;
        } else {
            out[o++] = (unsigned char)(0xC0 | (b >> 6));
            out[o++] = (unsigned char)(0x80 | (b & 0x3F));
        }
    }
    return (ssize_t)o;
}

static ssize_t read_iconv(struct encoding_decoder *d, unsigned char *out, size_t cap, char *errstr,
                          size_t errstr_size)
{
    if (d->cd == (iconv_t)-1) {
        snprintf(errstr, errstr_size, "cannot convert %s: %s", d->name, strerror(errno));
        return -1;
    }
    for (;;) {
        if (!d->eof && d->raw_len < RAW_SIZE) {
            ssize_t got =
                read_raw(d, d->raw + d->raw_len, RAW_SIZE - d->raw_len, errstr, errstr_size);
            if (got < 0)
                return -1;
            d->raw_len += (size_t)got;
        }
        if (d->raw_len == 0)
            return 0;
        char *in = (char *)d->raw, *o = (char *)out;
        size_t inleft = d->raw_len, oleft = cap;
        size_t rc = iconv(d->cd, &in, &inleft, &o, &oleft);
        int e = errno;
        size_t used = d->raw_len - inleft, produced = cap - oleft;
        memmove(d->raw, d->raw + used, inleft);
        d->raw_len = inleft;
        d->decoded += (int64_t)used;
        if (produced > 0)
            return (ssize_t)produced; /* an error in the rest is reported by the next call */
        if (rc != (size_t)-1)
            continue;
        if (e == EILSEQ && d->enc == ENCODING_DECLARED) {
            snprintf(errstr, errstr_size,
                     "byte 0x%02X at byte offset %" PRId64 " is no character in %s "
                     "(import.csv.encoding): is the file really in %s?",
                     d->raw[0], d->decoded, d->name, d->name);
            return -1;
        }
        if (e == EILSEQ) {
            snprintf(errstr, errstr_size,
                     "invalid %s (an unpaired surrogate) at byte offset %" PRId64, d->name,
                     d->decoded);
            return -1;
        }
        if (e == EINVAL && d->eof) {
            snprintf(errstr, errstr_size, "%s file ends in the middle of a character", d->name);
            return -1;
        }
        if (e != EINVAL) {
            snprintf(errstr, errstr_size, "cannot convert %s: %s", d->name, strerror(e));
            return -1;
        }
    }
}

ssize_t encoding_decoder_read(struct encoding_decoder *d, unsigned char *out, size_t cap,
                              char *errstr, size_t errstr_size)
{
    switch (d->enc) {
    case ENCODING_UTF8:
    case ENCODING_UTF8_BOM:
        return read_raw(d, out, cap, errstr, errstr_size);
    case ENCODING_LATIN1:
        return read_latin1(d, out, cap, errstr, errstr_size);
    case ENCODING_UTF16LE:
    case ENCODING_UTF16BE:
    case ENCODING_DECLARED:
        return read_iconv(d, out, cap, errstr, errstr_size);
    }
    snprintf(errstr, errstr_size, "unknown encoding");
    return -1;
}

const char *encoding_decoder_name(const struct encoding_decoder *d)
{
    return d->name;
}

int64_t encoding_decoder_offset(const struct encoding_decoder *d)
{
    return d->enc == ENCODING_UTF16LE || d->enc == ENCODING_UTF16BE || d->enc == ENCODING_DECLARED
               ? d->decoded
               : d->offset;
}

void encoding_decoder_free(struct encoding_decoder *d)
{
    if (!d)
        return;
    if (d->cd != (iconv_t)-1)
        iconv_close(d->cd);
    explicit_bzero(d, sizeof(*d));
    free(d);
}
