/*
 * cli.h - commands of the `runnel` binary that live outside main.c, so
 * tests can call them in-process.
 */
#ifndef RN_CLI_H
#define RN_CLI_H

/* `runnel gen`: argv[0] is "gen". Returns a process exit status. */
int rn_cli_gen(int argc, char **argv);

#endif
