/* tests/unit/eg_test.h: the in-house unit test harness (one header, no dependency).
 *
 *   EG_TEST(name) { EG_ASSERT_EQ(f(2), 4); }
 *
 * Each test binary includes this header once; it registers every EG_TEST, runs them in
 * order (or only those named on the command line), prints "ok NAME" or
 * "FAIL NAME: file:line: what" with both operands, and exits 1 if any failed. */
#ifndef EG_TEST_H
#define EG_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eg_test_case {
	const char *name;
	void (*fn)(void);
};

static struct eg_test_case eg_test_cases[512];
static unsigned eg_test_count;
static jmp_buf eg_test_jmp;
static const char *eg_test_current;

static inline void eg_test_register(const char *name, void (*fn)(void))
{
	if (eg_test_count < sizeof(eg_test_cases) / sizeof(eg_test_cases[0]))
		eg_test_cases[eg_test_count++] = (struct eg_test_case){ name, fn };
}

#define EG_TEST(name)                                                     \
	static void name(void);                                           \
	__attribute__((constructor)) static void eg_test_reg_##name(void) \
	{                                                                 \
		eg_test_register(#name, name);                            \
	}                                                                 \
	static void name(void)

#define EG_FAIL(...)                                                            \
	do {                                                                    \
		printf("FAIL %s: %s:%d: ", eg_test_current, __FILE__, __LINE__); \
		printf(__VA_ARGS__);                                            \
		printf("\n");                                                   \
		fflush(stdout);                                                 \
		longjmp(eg_test_jmp, 1);                                        \
	} while (0)

#define EG_ASSERT(cond)                                   \
	do {                                              \
		if (!(cond))                              \
			EG_FAIL("assertion failed: %s", #cond); \
	} while (0)

#define EG_ASSERT_EQ(a, b)                                                                  \
	do {                                                                                \
		int64_t eg_a_ = (int64_t)(a), eg_b_ = (int64_t)(b);                         \
		if (eg_a_ != eg_b_)                                                         \
			EG_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, eg_a_, eg_b_); \
	} while (0)

#define EG_ASSERT_STR_EQ(a, b)                                                             \
	do {                                                                               \
		const char *eg_a_ = (a), *eg_b_ = (b);                                     \
		if (!eg_a_ || !eg_b_ || strcmp(eg_a_, eg_b_) != 0)                         \
			EG_FAIL("%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, #b, \
				eg_a_ ? eg_a_ : "(null)", eg_b_ ? eg_b_ : "(null)");       \
	} while (0)

#define EG_ASSERT_CONTAINS(hay, needle)                                                    \
	do {                                                                               \
		const char *eg_h_ = (hay), *eg_n_ = (needle);                              \
		if (!eg_h_ || !strstr(eg_h_, eg_n_))                                       \
			EG_FAIL("%s contains \"%s\":\n  got: \"%s\"", #hay, eg_n_,          \
				eg_h_ ? eg_h_ : "(null)");                                 \
	} while (0)

static inline int eg_test_selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	/* volatile: they live across setjmp() (a failing test longjmps back here) */
	volatile unsigned pass = 0, fail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (volatile unsigned i = 0; i < eg_test_count; i++) {
		if (!eg_test_selected(argc, argv, eg_test_cases[i].name))
			continue;
		eg_test_current = eg_test_cases[i].name;
		if (setjmp(eg_test_jmp) == 0) {
			eg_test_cases[i].fn();
			printf("ok %s\n", eg_test_current);
			pass++;
		} else {
			fail++;
		}
	}
	printf("%u passed, %u failed\n", pass, fail);
	return fail ? 1 : 0;
}

#endif /* EG_TEST_H */
