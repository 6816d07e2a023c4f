/*
 * encoding: decides how a CSV file is encoded and turns its bytes into UTF-8, streaming.
 * UTF-8 (with or without BOM), UTF-16 LE/BE with BOM and ISO-8859-1 are read; anything else fails.
 *
 * Rules (checked by encoding_detect over the whole file, before any row is read):
 *  - BOM EF BB BF: UTF-8; every byte after it must be valid UTF-8.
 *  - BOM FF FE / FE FF: UTF-16LE / UTF-16BE (checked while decoding). A UTF-32 BOM: refused.
 *  - No BOM, valid UTF-8 throughout (ASCII included): UTF-8.
 *  - No BOM, invalid UTF-8 but also valid multi-byte UTF-8 elsewhere: refused (mixed encodings;
 *    an overlong or surrogate sequence is invalid UTF-8 too).
 *  - No BOM, invalid UTF-8 and no valid multi-byte sequence: ISO-8859-1, unless it has a byte
 *    0x80..0x9F: those are C1 controls in ISO-8859-1, and a file holding them is really
 *    Windows-1252, CP850 or Mac Roman, whose letters we would silently get wrong: refused.
 *  - A NUL byte: refused (binary file, or UTF-16 without BOM, which is said when it looks so).
 *
 * An encoding declared in the config (import.csv.encoding, e.g. WINDOWS-1252: exports known to
 * be in it) replaces the guesses, not the proofs: a byte order mark, a NUL byte, or valid
 * UTF-8 with non-ASCII characters is refused; anything else is converted with iconv, and a
 * byte that is no character in the declared encoding is an error at its offset.
 */
#ifndef SISOPI_ENCODING_H
#define SISOPI_ENCODING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum encoding {
    ENCODING_UTF8 = 0,
    ENCODING_UTF8_BOM,
    ENCODING_UTF16LE,
    ENCODING_UTF16BE,
    ENCODING_LATIN1,
    ENCODING_DECLARED, /* the config's import.csv.encoding, through iconv */
};

/* "UTF-8", "UTF-8 with BOM", "UTF-16LE", "UTF-16BE", "ISO-8859-1", "declared" (static). */
const char *encoding_name(enum encoding e);

/* Where a problem is: physical line and character within it (both 1-based), byte offset. */
struct encoding_problem {
    int64_t line;
    int64_t character;
    int64_t offset;
    char message[400]; /* "character C: what" (the line is left to the caller), or "what" */
};

/*
 * Reads the whole regular file fd (with pread: the file position is not used) and decides its
 * encoding by the rules above (declared: the name import.csv.encoding gives, or NULL to
 * detect). Returns 0 with *enc and *bom_len (bytes to skip), or -1 with *prob filled.
 */
int encoding_detect(int fd, const char *declared, enum encoding *enc, size_t *bom_len,
                    struct encoding_problem *prob);

struct encoding_decoder;

/* A decoder reading fd from byte offset start (after the BOM); declared names the encoding of
 * ENCODING_DECLARED. Does not own fd. */
struct encoding_decoder *encoding_decoder_new(int fd, enum encoding enc, const char *declared,
                                              size_t start);

/* What the decoder reads: encoding_name's, or the declared name. */
const char *encoding_decoder_name(const struct encoding_decoder *d);

/*
 * Fills out[0..cap) with the next UTF-8 bytes (cap >= 16); a character may be split between two
 * calls. Returns the number of bytes (> 0), 0 at the end of the file, or -1 with err set
 * (invalid or truncated UTF-16, read error); errors come only after all valid output before
 * them was returned.
 */
ssize_t encoding_decoder_read(struct encoding_decoder *d, unsigned char *out, size_t cap, char *err,
                              size_t errlen);

/* Bytes of the file consumed so far (BOM included), for progress reports. */
int64_t encoding_decoder_offset(const struct encoding_decoder *d);

/* Wipes the decoder's buffers (they may hold passwords) and frees it. NULL is fine. */
void encoding_decoder_free(struct encoding_decoder *d);

#endif
