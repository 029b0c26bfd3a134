/*
 * ARM semihosting: console output and exit through the debugger (or QEMU's
 * -semihosting). No libc needed.
 */
#include "semihost.h"

static int semihost_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_puts(const char *s)
{
    (void)semihost_call(0x04, s); /* SYS_WRITE0 */
}

void semihost_exit(int status)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit (QEMU exits 0) or
       ADP_Stopped_RunTimeErrorUnknown (QEMU exits 1). */
    (void)semihost_call(0x18, (const void *)(status == 0 ? 0x20026 : 0x20023));
}
