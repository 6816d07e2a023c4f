/*
 * import_id: UUIDv7 generation and syntax check.
 */
#include "import_id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int import_id_new(char out[IMPORT_ID_LEN + 1], int64_t unix_ms)
{
    uint8_t b[16];
    if (getrandom(b + 6, 10, 0) != 10)
        return -1;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)((uint64_t)unix_ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
    snprintf(out, IMPORT_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

bool import_id_valid(const char *s)
{
    if (strlen(s) != IMPORT_ID_LEN)
        return false;
    for (int i = 0; i < IMPORT_ID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}
