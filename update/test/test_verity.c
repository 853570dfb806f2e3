/* The verity table of a command line: found, absent, malformed. (The root hash itself is
 * checked against veritysetup's in tests/update/install_test.ts.) */
#include <string.h>

#include "test.h"
#include "verity.h"

int main(void)
{
	struct verity v;
	char err[128];
	const char *line =
		"console=ttyS0 root=/dev/dm-0 dm-mod.create=\"icenet-root,,0,ro,0 800 verity 1 "
		"PARTUUID=x-02 PARTUUID=x-02 4096 4096 100 100 sha256 "
		"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd abab\" icenet.slot=a";
	CHECK(verity_parse(line, &v, err, sizeof err) == 1, "table found");
	CHECK(v.data_block == 4096 && v.hash_block == 4096 && v.data_blocks == 100, "geometry");
	CHECK(v.root[0] == 0xcd && v.root[31] == 0xcd, "root hash");
	CHECK(v.salt_len == 2 && v.salt[0] == 0xab && v.salt[1] == 0xab, "salt");
	CHECK(verity_parse("root=PARTUUID=x-02 icenet.slot=a", &v, err, sizeof err) == 0, "none");
	CHECK(verity_parse("dm-mod.create=\"r,,0,ro,0 8 linear /dev/sda 0\"", &v, err, sizeof err) ==
		      -1,
	      "not verity");
	CHECK(verity_parse("dm-mod.create=\"r,,0,ro,0 8 verity 1 a a 4096 4096 1 1 md5 "
			   "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd -\"",
			   &v, err, sizeof err) == -1 &&
		      strstr(err, "md5"),
	      "other hash refused, named");
	CHECK(verity_parse("dm-mod.create=\"r,,0,ro,0 8 verity 1 a a 4096 4096 1 1 sha256 cd -\"", &v,
			   err, sizeof err) == -1,
	      "short root hash");
	return test_done("test_verity");
}
