/*
 * sisopi_partition: prints the sisopi.users partition of each KEY among N partitions, so that
 * shell tests can check where the ingest put a record.   sisopi_partition N KEY...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partitioner.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sisopi_partition N KEY...\n");
        return 64;
    }
    int n = atoi(argv[1]);
    if (n < 1)
        return 64;
    for (int i = 2; i < argc; i++)
        printf("%d\n", partitioner_partition(argv[i], strlen(argv[i]), n));
    return 0;
}
