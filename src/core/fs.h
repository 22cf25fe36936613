/*
 * fs.h - file-system helpers shared by the runtime, the dead-letter output
 * and the command line.
 */
#ifndef RN_FS_H
#define RN_FS_H

/* Creates dir and its parents (mkdir -p). Returns 0, or -1 with errno set
 * (ENOTDIR when dir exists but is not a directory). */
int rn_mkdir_p(const char *dir);

/* Creates the directories above the file at path (nothing for a bare
 * file name). Returns 0, or -1 with errno set. */
int rn_mkdir_parent(const char *path);

#endif
