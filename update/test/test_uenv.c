/* U-Boot environment: CRC, set/delete, round trip through the file image. */
#include <stdlib.h>

#include "test.h"
#include "uenv.h"

int main(void)
{
	struct uenv e, f;
	uint8_t img[256];

	/* zlib's check value of "123456789" */
	CHECK(crc32_le(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u, "crc32 check value");

	CHECK(!uenv_init(&e, sizeof img), "init");
	CHECK(!uenv_import_text(&e, "bootcmd=run icenet_boot\n# comment\nbootdelay=0\n"), "import");
	CHECK(!uenv_set(&e, "icenet_trial", "b"), "set trial");
	CHECK(!uenv_set(&e, "icenet_tries", "1"), "set tries");
	CHECK(!uenv_set(&e, "icenet_trial", "a"), "replace trial");
	CHECK_STR(uenv_get(&e, "icenet_trial"), "a", "replaced value");
	CHECK(!uenv_set(&e, "bootdelay", 0), "delete");
	CHECK(uenv_get(&e, "bootdelay") == 0, "deleted stays deleted");
	CHECK(uenv_get(&e, "icenet") == 0, "a prefix is not a name");
	uenv_image(&e, img);

	CHECK(!uenv_init(&f, sizeof img), "init 2");
	CHECK(!uenv_parse(&f, img, sizeof img), "parse own image");
	CHECK_STR(uenv_get(&f, "bootcmd"), "run icenet_boot", "bootcmd survives");
	CHECK_STR(uenv_get(&f, "icenet_tries"), "1", "tries survive");
	img[100] ^= 1;
	CHECK(uenv_parse(&f, img, sizeof img) == -1, "a flipped bit fails the CRC");
	CHECK(uenv_parse(&f, img, sizeof img - 1) == -1, "a wrong size is refused");

	/* Full: a value that does not fit is refused and the env stays as it was. */
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK(uenv_set(&e, "big", big) == -1, "too big for 256 bytes");
	CHECK_STR(uenv_get(&e, "icenet_trial"), "a", "unchanged after a refusal");
	uenv_free(&e);
	uenv_free(&f);
	return test_done("test_uenv");
}
