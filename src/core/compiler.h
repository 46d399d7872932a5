/* src/core/compiler.h: attributes and banned functions; included by every .c of ours.
 * May include: nothing of ours. */
#ifndef EG_CORE_COMPILER_H
#define EG_CORE_COMPILER_H

#include <stdio.h>
#include <string.h>

#define EG_LIKELY(x)   __builtin_expect(!!(x), 1)
#define EG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define EG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define EG_NORETURN    __attribute__((noreturn))
#define EG_UNUSED      __attribute__((unused))
#define EG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define EG_MIN(a, b)   ((a) < (b) ? (a) : (b))
#define EG_MAX(a, b)   ((a) > (b) ? (a) : (b))

/* _FORTIFY_SOURCE may define these as macros (clang): undefine before poisoning. */
#undef strcpy
#undef strcat
#undef sprintf
#undef vsprintf
#pragma GCC poison strcpy strcat sprintf vsprintf gets

#endif /* EG_CORE_COMPILER_H */
