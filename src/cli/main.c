/*
 * main.c - the runnel command line: gen, test, run, explain, demo.
 */
#include <stdio.h>
#include <string.h>

#include "runnel.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "version")) {
        printf("runnel %s\n", RN_VERSION_STRING);
        return 0;
    }
    fprintf(stderr, "usage: runnel gen|test|run|explain|demo ...\n");
    return 2;
}
