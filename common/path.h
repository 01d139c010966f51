/* common/path.h — Go's path.Clean, the one every module uses.
 *
 * Dockerfiles, .dockerignore patterns, COPY sources and destinations, WORKDIR and tar entry
 * names are all cleaned the way BuildKit cleans them, so two modules never disagree on what
 * a path names.  Purely lexical: the filesystem is never consulted, symlinks are not
 * resolved.
 */
#ifndef SW_COMMON_PATH_H
#define SW_COMMON_PATH_H

/* Go's path.Clean: "" -> ".", "a//b/../c/" -> "a/c", "/.." -> "/", "../a/.." -> "..".
 * Always a new malloc'ed string. */
char *sw_path_clean (const char *p);

#endif
