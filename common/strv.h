/* common/strv.h — a growable, NULL-terminated vector of owned strings.
 *
 * Guarantees: after any push, v[n] is NULL, so v can be handed to anything that wants a
 * char ** (execve, a config's Cmd); an empty vector has v == NULL and n == 0.  Every string
 * in it is owned by the vector and freed by sw_strv_free.  The capacity doubles, so pushing
 * a million entries costs no quadratic copying.
 */
#ifndef SW_COMMON_STRV_H
#define SW_COMMON_STRV_H

#include <stddef.h>

typedef struct sw_strv
{
  char **v; /* NULL-terminated; NULL while empty */
  size_t n;
  size_t cap; /* slots allocated in v, the terminator's included */
} sw_strv;

#define SW_STRV_INIT { NULL, 0, 0 }

/* Append a copy of value. */
void sw_strv_push (sw_strv *s, const char *value);
/* Append value itself: the vector owns it from now on. */
void sw_strv_push_owned (sw_strv *s, char *value);
/* Free every string and the array; the vector is empty again and can be reused. */
void sw_strv_free (sw_strv *s);
/* Hand the NULL-terminated array out (NULL when empty) and reset the vector. */
char **sw_strv_steal (sw_strv *s);
/* A NULL-terminated deep copy of n strings (NULL when v is NULL). */
char **sw_strv_dup (char *const *v, size_t n);

/* Bare NULL-terminated string arrays, as records keep them (an image config's Env, Cmd…):
 * the length is found by scanning, so sw_strlist_push is for short lists only. */
size_t sw_strlist_len (char *const *v);
char **sw_strlist_dup (char *const *v);
void sw_strlist_push (char ***v, const char *s);
void sw_strlist_free (char **v);

static inline void
sw_cleanup_strvecp (sw_strv *s)
{
  sw_strv_free (s);
}
/* (cleanup_strv, in cleanup.h, is for a bare NULL-terminated char **.) */
#define cleanup_strvec __attribute__ ((cleanup (sw_cleanup_strvecp)))

#endif
