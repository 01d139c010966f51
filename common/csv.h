/* common/csv.h — the value of one key in a buildx option spec ("type=image,name=x,push=true").
 *
 * Guarantees: fields are split at every ',' (no CSV quoting), and the first field spelled
 * exactly "KEY=…" gives the value; the spec is never modified.  Shared by --output's
 * parser (exec/outputs.c) and the build's push/name decision (exec/run_build.c), which
 * must read a spec the same way.
 */
#ifndef SW_EXEC_CSV_H
#define SW_EXEC_CSV_H

/* A malloc'ed copy of key's value ("" for "key="), or NULL when no field names key. */
char *sw_csv_get (const char *spec, const char *key);

#endif
