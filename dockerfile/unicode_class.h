/* dockerfile/unicode_class.h — Go's unicode.IsLetter and unicode.IsDigit.
 *
 * BuildKit's shell lexer decides what a variable name is with these (so `$école` is a
 * name and `$€` is not); the same classes are needed for exact expansion.  Tables from
 * Unicode 13.0 (Go 1.19's unicode package); names using letters assigned later differ. */
#ifndef SW_DOCKERFILE_UNICODE_CLASS_H
#define SW_DOCKERFILE_UNICODE_CLASS_H

#include <stdbool.h>
#include <stdint.h>

bool sw_df_is_letter (int32_t r);
bool sw_df_is_digit (int32_t r);

#endif
