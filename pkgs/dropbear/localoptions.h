/* IceNet-OS: keys only. Password authentication is compiled out, so no
 * configuration mistake can turn it on. */
#define DROPBEAR_SVR_PASSWORD_AUTH 0
#define DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
