/* A minimal test harness: CHECK records a failure with file:line and goes on. */
#ifndef ICENET_TEST_H
#define ICENET_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures, test_checks;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		test_checks++;                                                \
		if (!(cond)) {                                                \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
		}                                                             \
	} while (0)

#define CHECK_STR(got, want, what) \
	CHECK(!strcmp((got), (want)), "%s: got \"%s\", want \"%s\"", (what), (got), (want))

static int test_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
	return test_failures != 0;
}

#endif
