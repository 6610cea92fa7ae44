/* bcryptprimitives.dll for Wine 8 (Debian bookworm), which lacks it: the
 * Go runtime (1.22 on) loads it from system32 for ProcessPrng and stops
 * without it. Real Windows has had it since Windows 8. This one draws its
 * random bytes from bcrypt.dll, which Wine has. Built by TestWindowsBinary
 * with mingw-w64; used only under Wine. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) >= 0;
}
