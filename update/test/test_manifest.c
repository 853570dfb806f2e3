/* Manifest parsing and the Ed25519 check (RFC 8032 test vector 2). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "manifest.h"
#include "sodium/crypto_hash_sha256.h"
#include "sodium/utils.h"
#include "test.h"
#include "util.h"

static const char *GOOD =
	"icenet-bundle 1\nboard rpi\nversion 2.0\nserial 7\nkernel kernel8.img\n"
	"payload root 10 0000000000000000000000000000000000000000000000000000000000000000\n"
	"payload slot/kernel8.img 3 00000000000000000000000000000000000000000000000000000000000000ff\n"
	"end\n";

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static int parse(const char *text, char *err)
{
	struct manifest m;
	return manifest_parse(&m, text, strlen(text), err, 256);
}

int main(void)
{
	struct manifest m;
	char err[256];

	CHECK(!manifest_parse(&m, GOOD, strlen(GOOD), err, sizeof err), "good manifest: %s", err);
	CHECK_STR(m.board, "rpi", "board");
	CHECK(m.serial == 7 && m.n == 2 && m.p[0].size == 10 && m.p[1].sha256[31] == 0xff, "fields");

	static const struct {
		const char *text, *error;
	} bad[] = {
		{"icenet-bundle 2\nend\n", "first line"},
		{"icenet-bundle 1\nboard rpi\nversion 1\n", "no \"end\""},
		{"icenet-bundle 1\nboard rpi\nversion 1\nend\n", "no root payload"},
		{"icenet-bundle 1\nboard rpi\nversion 1\npayload ../etc 1 00\nend\n", "bad payload name"},
		{"icenet-bundle 1\nboard rpi\nversion 1\npayload slot/../x 1 "
		 "0000000000000000000000000000000000000000000000000000000000000000\nend\n",
		 "bad payload name"},
		{"icenet-bundle 1\nboard rpi\nversion 1\nserial -1\nend\n", "serial"},
		{"icenet-bundle 1\nboard rpi\nversion 1\nfrobnicate\nend\n", "unknown"},
		{"icenet-bundle 1\nend\nboard x\n", "after \"end\""},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		CHECK(parse(bad[i].text, err) == -1 && strstr(err, bad[i].error),
		      "case %zu: want error with \"%s\", got \"%s\"", i, bad[i].error, err);
	}
	CHECK(payload_name_ok("slot-b/overlays/x.dtbo") && !payload_name_ok("slot-c/x") &&
		      !payload_name_ok("slot//x") && !payload_name_ok("slot/./x"),
	      "payload names");

	/* RFC 8032, 7.1 TEST 2: message 0x72. */
	uint8_t pk[32], sig[64], h[32];
	char b64pk[64], b64sig[100], id[65], sigline[256];
	unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", pk, 32);
	unhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
	      sig, 64);
	sodium_bin2base64(b64pk, sizeof b64pk, pk, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b64sig, sizeof b64sig, sig, 64, sodium_base64_VARIANT_ORIGINAL);
	crypto_hash_sha256(h, pk, 32);
	hex(h, 32, id);
	id[16] = 0;
	char keyfile[] = "/tmp/test_manifest.XXXXXX";
	int fd = mkstemp(keyfile);
	dprintf(fd, "# trusted\ned25519 %s\n", b64pk);
	close(fd);
	snprintf(sigline, sizeof sigline, "signature ed25519 %s %s\n", id, b64sig);
	CHECK(!manifest_verify("r", 1, sigline, keyfile, err, sizeof err), "RFC vector: %s", err);
	CHECK(manifest_verify("s", 1, sigline, keyfile, err, sizeof err) == -1 &&
		      strstr(err, "bad signature"),
	      "changed message: %s", err);
	snprintf(sigline, sizeof sigline, "signature ed25519 0123456789abcdef %s\n", b64sig);
	CHECK(manifest_verify("r", 1, sigline, keyfile, err, sizeof err) == -1 &&
		      strstr(err, "not in"),
	      "unknown key: %s", err);
	unlink(keyfile);
	return test_done("test_manifest");
}
