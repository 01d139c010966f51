/* common/csv.h — one CSV record as Go's encoding/csv reads it, the way buildx and BuildKit
 * read option values ("type=local,\"dest=a,b\"", RUN --mount=…, --device …).
 *
 * Guarantees: the separator is ',', nothing is trimmed; a field that starts with '"' is
 * quoted: commas and line breaks in it are data ("\r\n" read as "\n") and "" stands for
 * one quote; a '"' inside an unquoted field, or anything but ',' or the end of the line
 * after a closing quote, is an error (with Go's message).  As buildx reads only the first
 * record, blank lines before it are skipped and everything after its line is ignored.  The record is never modified.  Every module that reads such a value goes
 * through here, so `--output`, `RUN --mount` and `--device` cannot disagree on quoting.
 */
#ifndef SW_COMMON_CSV_H
#define SW_COMMON_CSV_H

#include "common/strv.h"

/* Append record's fields to out.  0, or -1 with *why set to Go's message ("bare \" in
 * non-quoted-field", "extraneous or missing \" in quoted-field"); out then holds the
 * fields read before the bad one and is still the caller's to free.  "" is one empty
 * field. */
int sw_csv_split (const char *record, sw_strv *out, const char **why);

/* A malloc'ed copy of the value of the first field spelled exactly "KEY=…" ("" for
 * "key="), or NULL when no field names key or the spec is not valid CSV (callers check the
 * spec with sw_csv_split first, to report why). */
char *sw_csv_get (const char *spec, const char *key);

#endif
