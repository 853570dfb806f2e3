/* update.conf: defaults, values, errors naming file, line and key. */
#include "conf.h"
#include "test.h"

int main(void)
{
	struct conf c;
	conf_defaults(&c);
	CHECK(!conf_parse(&c, "# x\nboard = zima\nbootloader = systemd-boot\ntries = 2\n"
			      "root_b_device = /dev/sda3\n", "t"),
	      "good config");
	CHECK(c.loader == LOADER_SDBOOT && c.tries == 2 && c.uboot_env_size == 0x4000, "values");
	CHECK_STR(c.root_device[1], "/dev/sda3", "root_b_device");
	CHECK_STR(c.key, "/etc/icenet/update.pub", "default key");
	conf_defaults(&c);
	CHECK(!conf_parse(&c, "board=rpi\nbootloader=u-boot\nuboot_env_size=0x20000\n", "t") &&
		      c.uboot_env_size == 0x20000,
	      "hex size");
	conf_defaults(&c);
	CHECK(conf_parse(&c, "board = rpi\nbootloader = grub\n", "t") == -1, "unknown loader");
	conf_defaults(&c);
	CHECK(conf_parse(&c, "board = rpi\nbootloader = u-boot\ncolour = blue\n", "t") == -1,
	      "unknown key");
	conf_defaults(&c);
	CHECK(conf_parse(&c, "bootloader = u-boot\n", "t") == -1, "board missing");
	return test_done("test_conf");
}
